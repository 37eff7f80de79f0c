"""Pure notebook work (nbformat only, no processes): read, sanitize, score, answers, similarity."""
