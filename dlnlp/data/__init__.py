"""The course's data sets. Every loader is generated (seeded) or shipped in the repository."""
