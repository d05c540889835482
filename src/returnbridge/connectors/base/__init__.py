"""What every platform connector offers the engine, and the pieces they share."""
