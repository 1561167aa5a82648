"""City geography: districts, neighbourhoods, point lookup and distances (a pure library)."""

from citytrace.geo.city import Area, CityGeography, load_city, packaged_cities
from citytrace.geo.distance import EARTH_RADIUS_M, haversine_m

__all__ = [
    "EARTH_RADIUS_M",
    "Area",
    "CityGeography",
    "haversine_m",
    "load_city",
    "packaged_cities",
]
