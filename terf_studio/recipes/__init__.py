"""Recipes: an edit session's steps as data, applied again to other pairs, one or thousands."""

from terf_studio.recipes.recipe import Recipe, RecipeEdit, RecipeError, RecipeStep, load_recipe, save_recipe

__all__ = ["Recipe", "RecipeEdit", "RecipeError", "RecipeStep", "load_recipe", "save_recipe"]
