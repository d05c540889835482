"""The `returnbridge` command line (Typer + Rich)."""
