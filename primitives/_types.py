"""Argument and return types of primitives: strict, finite, and named for the listing.

The string in each ``Annotated`` is what the planner's listing shows for the type.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, FiniteFloat

from policywright.primitives._registry import ArrayReturn

__all__ = ["XY", "XYZ", "Array", "Array2", "Array3", "Array4", "Array6", "Points", "Target"]

#: An xy position in metres (table frame).
XY = Annotated[list[FiniteFloat], Field(min_length=2, max_length=2), "[x, y]"]
#: An xyz position in metres (world frame).
XYZ = Annotated[list[FiniteFloat], Field(min_length=3, max_length=3), "[x, y, z]"]
#: An object name, a named location, or an xy position.
Target = Annotated[str | XY, "str | [x, y]"]
#: A polyline of xy or xyz points (at most 500).
Points = Annotated[
    list[Annotated[list[FiniteFloat], Field(min_length=2, max_length=3)]],
    Field(min_length=1, max_length=500),
    "list[[x, y] | [x, y, z]]",
]

Array = Annotated[list[float], ArrayReturn(), "np.ndarray"]
Array2 = Annotated[list[float], ArrayReturn(), "np.ndarray[2]"]
Array3 = Annotated[list[float], ArrayReturn(), "np.ndarray[3]"]
Array4 = Annotated[list[float], ArrayReturn(), "np.ndarray[4]"]
Array6 = Annotated[list[float], ArrayReturn(), "np.ndarray[6]"]
