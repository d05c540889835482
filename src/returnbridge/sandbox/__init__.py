"""Local simulators of the platforms returnbridge talks to.

Each simulator is an independent oracle: it imports nothing from the rest of returnbridge, so a
misunderstanding shared by a connector and its simulator cannot hide behind common code.
"""
