"""Post-debate judging: scoring, the score scale, the jury, audits and the reliability report."""
