"""The builtin (weight-free) finder's parts, one module per cue.

* :mod:`.vocabulary`: words -> cue, kind and position selector; :func:`parse_target`.
* :mod:`.params`: :class:`FinderParams`, every numeric threshold in one place.
* :mod:`.common`: small image and mask helpers shared by the cues.
* :mod:`.thermal`, :mod:`.sky`, :mod:`.road`, :mod:`.vegetation`: the four cues,
  each a function ``(query, images) -> (mask, confidence, detail)``.

The finder itself and the public names live in
:mod:`terf_studio.regions.builtin_finder`.
"""
