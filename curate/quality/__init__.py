"""Quality filtering stages."""
