"""Every numeric threshold of the builtin finder, named in one place.

Images are float32 in [0, 1]; "share" means a fraction of the image's pixels (or of
its height or width where the name says so); Lab lightness runs 0..100. The defaults
were tuned on MSRS, RoadScene and synthetic pairs; changing one changes the masks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FinderParams:
    """Thresholds of the four cues (thermal, sky, road, vegetation)."""

    # ------------------------------------------------------------------ shared
    night_grey: float = 0.15  # median visible grey below which the pair counts as night

    # ------------------------------------------------------------------ thermal
    thermal_sigma: float = 1.0  # Gaussian smoothing of the infrared before any contrast
    disc_share: float = 0.25  # opening disc diameter / image height: the widest object found
    strong_floor: float = 0.15  # infrared local contrast (of 1.0) a seed must exceed
    strong_share: float = 0.4  # ... and this share of the image's strongest contrast
    peak_percentile: float = 99.9  # "the image's strongest contrast"
    clutter_percentile: float = 80  # what most of the background reaches
    distinct: float = 3.5  # an object's contrast / the image's clutter contrast
    seed_min_pixels: int = 6  # smallest seed, in pixels ...
    seed_min_share: float = 2e-5  # ... or this share of the image, whichever is larger
    seed_pad_share: float = 0.5  # a seed's window: its longer side times this, plus seed_pad_pixels
    seed_pad_pixels: int = 4
    ring_min_pixels: int = 10  # background ring too small to measure below this
    grow_level: float = 0.4  # seeds grow to this share of the way from background to top
    part_min_pixels: int = 4  # grown parts smaller than this are dropped before stacking
    stack_overlap: float = 0.5  # stacked parts: horizontal overlap / the narrower width
    stack_gap: float = 0.25  # ... and vertical gap / their joint height
    object_min_pixels: int = 15  # smallest warm object, in pixels ...
    object_min_share: float = 3e-5  # ... or this share of the image, whichever is larger
    object_max_share: float = 0.15  # larger warm areas are background, not objects
    object_percentile: float = 90  # an object's contrast: this percentile inside it
    complete_level: float = 0.15  # cooler parts (clothing) kept: share of the way from background to top
    reliability_clutter: float = 0.1  # clutter contrast at which reliability starts to fall ...
    reliability_span: float = 0.15  # ... reaching its floor this much higher
    reliability_floor: float = 0.2
    reliability_warning: float = 0.6  # below this the detail asks the user to check the mask
    person_aspect: tuple[float, float] = (1.35, 6.0)  # height / width of a person's box
    person_solidity: float = 0.2  # area / box area
    ground_share: float = 0.3  # an object's bottom must be below this share of the height
    vehicle_aspect: tuple[float, float] = (0.2, 1.1)
    vehicle_min_share: float = 3e-4
    animal_max_aspect: float = 3.0
    eye_catching_share: float = 0.2  # position words pick among objects this share of the largest
    full_contrast: float = 0.4  # object contrast that gives full strength
    kind_prior: tuple[tuple[str, float], ...] = (("person", 0.85), ("animal", 0.6), ("vehicle", 0.55), ("any", 0.85))
    kind_prior_default: float = 0.7

    # ------------------------------------------------------------------ sky
    sky_sigma: float = 1.5  # smoothing of both images
    sky_texture_window: int = 7  # local standard deviation window
    sky_night_cold_margin: float = 0.03  # night: at most this above the 10th-percentile infrared
    sky_night_cold_percentile: float = 10
    sky_night_smooth: float = 0.03  # night: texture below this
    sky_light: float = 55  # day: Lab lightness of a bright sky ...
    sky_blue_b: float = -8  # ... or Lab b below this (blue) ...
    sky_blue_light: float = 30  # ... with at least this lightness
    sky_green_a: float = -10  # and Lab a above this (not green)
    sky_grey: float = 0.55  # grey visible image: brighter than this
    sky_cold_percentile: float = 50  # day: no warmer than this percentile of the infrared
    sky_smooth: float = 0.04  # day: texture below this
    sky_max_depth: float = 0.8  # no sky below this share of the height
    sky_band_divisor: int = 20  # seed band: the top height // this rows (at least sky_band_min)
    sky_band_min: int = 2
    sky_seed_min_pixels: int = 10  # seeds needed: this many pixels ...
    sky_seed_min_share: float = 0.05  # ... or this share of the band, whichever is larger
    sky_grow_steps: int = 4  # pixels won back at edges the texture window stops short of
    sky_speck_pixels: int = 20  # specks removed: this many pixels ...
    sky_speck_share: float = 2e-4  # ... or this share of the image
    sky_hole_share: float = 0.002  # holes filled up to this share of the image
    sky_min_share: float = 0.005  # smallest sky
    sky_confidence: tuple[float, float, float] = (0.45, 0.45, 0.9)  # base, per top-band coverage, cap
    sky_night_confidence: float = 0.7  # confidence factor at night

    # ------------------------------------------------------------------ road
    road_sigma: float = 2.0
    road_texture_window: int = 9
    road_chroma: float = 15  # Lab chroma below which a pixel is grey
    road_smooth: float = 0.06  # texture below this
    road_seed_top: float = 0.82  # seed box: below this share of the height ...
    road_seed_x: tuple[float, float] = (0.3, 0.7)  # ... between these shares of the width
    road_seed_cover: float = 0.2  # share of the seed box that must look like road
    road_light_band: float = 0.1  # smallest lightness band (lightness 0..1) ...
    road_mad_factor: float = 3.0  # ... else this many median absolute deviations of the seeds
    road_ir_band: float = 0.07  # smallest infrared band by day ...
    road_ir_band_night: float = 0.04  # ... and at night
    road_max_height: float = 0.3  # no road above this share of the height by day ...
    road_max_height_night: float = 0.4  # ... and at night
    road_bridge_share: float = 0.02  # closing that bridges lane markings / image width
    road_close: int = 7  # closing of the connected road
    road_speck_pixels: int = 20
    road_speck_share: float = 5e-4
    road_hole_share: float = 0.01
    road_min_share: float = 0.02  # smallest road
    road_confidence: tuple[float, float, float] = (0.25, 0.45, 0.7)  # base, per seed-box coverage, cap
    road_night_confidence: float = 0.8

    # ------------------------------------------------------------------ vegetation
    horizon_road_row: float = 0.2  # rows the road spans: at least this share of the row is road
    horizon_range: tuple[float, float] = (0.3, 0.8)  # horizon row clipped to these shares of the height
    veg_window_min: int = 9  # texture window: at least this ...
    veg_window_divisor: float = 30  # ... or the height / this
    veg_gradient: float = 0.02  # gradient magnitude counted as texture
    veg_texture: float = 0.35  # share of textured pixels for faintly green foliage
    veg_green: float = 0.06  # excess green of clearly green pixels
    veg_faint_green: float = 0.005  # excess green of textured foliage
    veg_min_value: float = 0.04  # darker pixels are not judged by colour
    veg_confidence: float = 0.65  # colour cue
    veg_grey_confidence: float = 0.35  # texture cue (grey visible image)
    veg_hole_share: float = 0.002  # holes filled (colour cue) ...
    veg_grey_hole_share: float = 0.01  # ... and for the texture cue
    grey_chroma: float = 12.0  # 90th-percentile Lab chroma below which the visible counts as grey
    dim_highlight: float = 0.85  # dim: 95th-percentile grey below this ...
    dim_top: float = 0.45  # ... and the top fifth's median below this
    texture_floor_ir: float = 0.002  # smallest "smooth level" of the infrared band energy ...
    texture_floor_vi: float = 0.001  # ... and the visible's
    texture_ir: float = 2.5  # foliage: infrared band energy / the image's smooth level
    texture_vi: float = 3.0  # ... and the same for the visible
    warmer_than_road: float = 0.15  # grey visible: foliage is at most this much warmer than the road
    white: float = 0.85  # grey visible: foliage is darker than this (white walls are not)
    veg_speck_pixels: int = 30
    veg_speck_share: float = 5e-4
    veg_horizon_margin: float = 0.1  # trees/low split: this share of the height above the horizon ...
    veg_split_min: float = 0.2  # ... but not above this share of the height
    veg_min_share: float = 0.003  # smallest vegetation area


PARAMS = FinderParams()
