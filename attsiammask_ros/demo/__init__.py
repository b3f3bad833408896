"""`make demo`: the embedded clip, a player node, and the orchestrator that runs the tracker node over them."""
