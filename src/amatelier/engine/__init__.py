"""The roundtable engine: runner, workers, judge, economy, learning loop, steward."""
