"""Example lesion tables shipped with imagebio (package data)."""
