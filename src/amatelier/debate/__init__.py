"""The debate: runner, turns, positions and the decision record."""
