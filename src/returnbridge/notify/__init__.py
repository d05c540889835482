"""Customer email and vendor callbacks: what leaves returnbridge after a return moves."""
