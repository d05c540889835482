"""What every platform sandbox shares that is not the platform: serving over HTTP."""
