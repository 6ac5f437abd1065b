"""The offline model's acknowledgement of a person's message stays inside the speech."""

from amatelier.offline.debate import with_note


def test_the_note_goes_before_the_floor_and_position_lines():
    text = "I hold my ground.\nFLOOR: yes\nPOSITION: keep it | CONFIDENCE: 70 | MOVED BY: none"
    out = with_note(text, "Noting that priya told us \"x\".")
    assert out.split("\n") == ['I hold my ground. Noting that priya told us "x".', "FLOOR: yes",
                               "POSITION: keep it | CONFIDENCE: 70 | MOVED BY: none"]


def test_a_speech_without_machine_lines_gets_the_note_at_the_end():
    assert with_note("Plain speech.", "Noted.") == "Plain speech. Noted."
