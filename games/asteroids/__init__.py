"""Asteroids: thousands of instanced rocks, culled on the GPU, drawn with one indirect draw."""

from games.asteroids.game import MESH, ROCK, Asteroids, RockField, RockSystem, main

__all__ = ["MESH", "ROCK", "Asteroids", "RockField", "RockSystem", "main"]
