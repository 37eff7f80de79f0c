"""Everything that runs in the student's kernel or its sandbox. Nothing here imports the host side."""
