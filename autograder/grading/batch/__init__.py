"""Many submissions: the local worker pool, calibration, the gradebook, collect, export, feedback, roster."""
