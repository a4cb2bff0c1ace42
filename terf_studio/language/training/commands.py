"""A generated command set for teaching a small language model to read edit requests.

Each item is ``{"text", "edits", "tags"}`` (the format of ``resources/commands/*.jsonl``): a
sentence an analyst might type and the plan it means. Sentences are built from templates x
synonyms x targets x strength words x politeness x several edits per sentence x typos, in two
voices: **direct** ("brighten the trees a bit") and **indirect**, a complaint about what is
wrong ("the street lamps are blinding" -> darken them; "nobody should read the plate" -> blur
it; "the cyclist disappears into the night" -> lean it towards infrared). Chatter that asks for
nothing (greetings, questions about the image, thanks) has an empty plan.

The held-out part (:func:`generate` with ``part="heldout"``) uses targets and templates that the
training part never uses, so it measures reading, not recall.

The vocabulary here is deliberately wider than the rule parser's: the model should learn what
the rules cannot list.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# -- targets by kind: warm things (people, animals, vehicles) go towards infrared when they are
# -- hard to see; scenery is brightened; lights are darkened; private details are blurred.
PEOPLE = ["person", "pedestrian", "man", "woman", "child", "kid", "cyclist", "rider", "soldier", "hiker", "runner",
          "jogger", "people", "crowd", "driver", "worker", "couple", "guard", "hunter", "walker", "figure",
          "boy", "girl", "police officer", "motorcyclist", "skateboarder", "bystanders", "family", "old man",
          "delivery driver", "fisherman", "passenger"]
ANIMALS = ["dog", "deer", "cat", "horse", "cows", "fox", "sheep", "bird", "boar", "rabbit", "goats", "wolf"]
VEHICLES = ["car", "truck", "van", "bus", "bike", "motorbike", "boat", "lorry", "tractor", "taxi", "jeep",
            "train", "scooter", "ambulance", "pickup", "trailer"]
SCENERY = ["sky", "trees", "road", "grass", "building", "wall", "fence", "field", "river", "bridge", "hedge",
           "forest", "street", "sidewalk", "parking lot", "clouds", "bushes", "lawn", "house", "roof", "garden",
           "alley", "hill", "mountains", "path", "tunnel", "yard", "corridor", "shadows", "background",
           "foreground", "water", "snow", "ground", "crossing", "pavement", "driveway", "barn", "shop front",
           "stairs", "doorway", "porch", "tree line", "riverbank", "courtyard", "bridge railing"]
LIGHTS = ["street lamps", "headlights", "lamp post", "sign", "billboard", "traffic light", "spotlight", "windows",
          "tail lights", "neon sign", "lantern", "floodlight", "porch light", "reflections", "sun", "moon",
          "shop window", "flashlight", "fire", "brake lights"]
PRIVATE = ["plate", "license plate", "face", "faces", "house number", "name tag", "logo", "screen", "tattoo",
           "number plate", "address", "id badge", "sign text", "door number", "phone screen", "children's faces"]
WARM = PEOPLE + ANIMALS + VEHICLES
MODIFIERS = ["on the left", "on the right", "in the distance", "near the car", "by the door", "in front",
             "in the background", "next to the tree", "at the crossing", "behind the fence", "on the bridge",
             "in the middle", "at the top", "near the wall", "under the tree"]
ADJECTIVES = ["red", "white", "parked", "tall", "small", "old", "dark", "second", "nearest", "big", "black"]

#: Parts kept apart for the held-out set (never in training items).
HELDOUT_TARGETS = {"jogger", "fox", "tractor", "hedge", "barn", "lantern", "tattoo", "fisherman", "corridor",
                   "floodlight", "id badge", "goats", "ambulance", "courtyard"}

STRENGTHS = {0.25: ["very slightly", "a tiny bit", "just a touch", "a hint"],
             0.5: ["a bit", "a little", "slightly", "somewhat", "a tad", "gently"],
             1.5: ["noticeably", "quite a bit", "clearly", "even more"],
             2.0: ["a lot", "much", "strongly", "really", "way more", "heavily"]}

# Templates: {t} is the target phrase (with its article), {s} a strength phrase (may be empty).
# Each list's last HELDOUT_TEMPLATES entries are kept for the held-out part.
DIRECT: dict[str, list[str]] = {
    "brighten": ["brighten {t}{s}", "make {t} brighter{s}", "lighten {t}{s}", "light up {t}{s}",
                 "give {t} more light{s}", "raise the exposure of {t}{s}", "lift the shadows on {t}{s}",
                 "increase the brightness of {t}{s}", "{t} should be brighter{s}", "illuminate {t}{s}",
                 "open up the shadows in {t}{s}", "add some light to {t}{s}", "expose {t} better{s}",
                 "pull {t} out of the dark{s}", "bring up the light on {t}{s}", "boost the brightness of {t}{s}"],
    "darken": ["darken {t}{s}", "make {t} darker{s}", "dim {t}{s}", "tone down {t}{s}",
               "reduce the brightness of {t}{s}", "turn down {t}{s}", "lower the exposure on {t}{s}",
               "{t} should be darker{s}", "take the glare off {t}{s}", "cut the brightness of {t}{s}",
               "tame the highlights on {t}{s}", "calm down {t}{s}", "make {t} less bright{s}",
               "pull down the glare of {t}{s}", "bring down the highlights on {t}{s}", "knock back {t}{s}"],
    "denoise": ["denoise {t}{s}", "remove the noise on {t}{s}", "clean up the grain in {t}{s}",
                "smooth out {t}{s}", "reduce the noise in {t}{s}", "get rid of the grain on {t}{s}",
                "clean {t}{s}", "make {t} less noisy{s}", "remove the speckles from {t}{s}",
                "filter the noise out of {t}{s}", "clear the grain from {t}{s}", "tidy up the noise on {t}{s}",
                "make {t} cleaner{s}", "suppress the noise on {t}{s}", "despeckle {t}{s}", "de-grain {t}{s}"],
    "blur": ["blur {t}{s}", "hide {t}{s}", "pixelate {t}{s}", "redact {t}{s}", "anonymise {t}{s}",
             "obscure {t}{s}", "blur out {t}{s}", "make {t} unreadable{s}", "censor {t}{s}", "mask out {t}{s}",
             "make {t} unrecognisable{s}", "black out {t}{s}", "soften {t} so nobody can read it{s}",
             "conceal {t}{s}", "smudge {t}{s}", "scramble {t}{s}"],
    "infrared": ["make {t} lean towards infrared{s}", "use more infrared on {t}{s}", "make {t} more thermal{s}",
                 "highlight {t} with the heat{s}", "show {t} as the thermal camera sees it{s}",
                 "bring out {t} with infrared{s}", "make {t} stand out{s}", "make {t} pop{s}", "emphasise {t}{s}",
                 "give {t} a thermal look{s}", "show the heat of {t}{s}",
                 "make {t} glow like in the thermal image{s}", "let the thermal camera show {t}{s}",
                 "make {t} easier to spot{s}", "favour the infrared on {t}{s}",
                 "put more heat signature into {t}{s}"],
    "visible": ["make {t} lean towards visible{s}", "use more of the visible image on {t}{s}",
                "show {t} in natural colours{s}", "restore the colours of {t}{s}",
                "make {t} look like the photo{s}", "bring back the texture of {t}{s}", "less thermal on {t}{s}",
                "favour the visible camera on {t}{s}", "make {t} more natural{s}",
                "give {t} its real colours back{s}", "show {t} as the colour camera sees it{s}",
                "keep the real look of {t}{s}", "take the thermal look off {t}{s}",
                "put the colours back on {t}{s}", "show the detail of {t}{s}", "make {t} look realistic{s}"],
}
INDIRECT: dict[str, list[str]] = {
    "brighten": ["{t} is too dark", "I can't see anything in {t}", "{t} is lost in shadow", "{t} looks gloomy",
                 "{t} is pitch black", "{t} is way too dim", "there is no detail in {t}, it is all black",
                 "{t} is underexposed", "{t} is buried in darkness", "I can barely make out {t}",
                 "{t} is in deep shadow", "nothing shows in {t}, it is too dark", "{t} is far too dim to read",
                 "{t} looks almost black", "the shadows hide {t}", "{t} needs more light", "{t} is murky",
                 "{t} is a dark mess"],
    "darken": ["{t} is blinding", "{t} is too bright", "{t} is blown out", "{t} is overexposed", "{t} is glaring",
               "{t} hurts my eyes", "{t} is dazzling", "{t} burns out the picture", "{t} is a white blob",
               "{t} is washed out", "{t} is so bright it hurts", "{t} outshines everything else",
               "{t} is far too harsh", "{t} flares badly", "the glare from {t} is too much", "{t} is too intense",
               "{t} is far too bright to look at", "{t} is way too strong"],
    "denoise": ["{t} is grainy", "{t} is noisy", "{t} looks like static", "there is speckle all over {t}",
                "{t} looks like sandpaper", "{t} is full of grain", "{t} is peppered with dots",
                "{t} looks like television snow", "{t} is crunchy", "{t} is drowning in noise",
                "{t} is all speckled", "{t} looks gritty", "{t} is fuzzy with grain",
                "{t} looks like it is crawling with noise", "{t} has a sandy texture",
                "the grain on {t} is distracting", "{t} looks fuzzy with noise", "{t} has ugly speckles"],
    "blur": ["nobody should be able to read {t}", "{t} must not be recognisable", "{t} is private",
             "we can't publish {t}", "{t} gives away who it is", "{t} has to go", "{t} is personal data",
             "{t} identifies someone", "{t} is a privacy problem", "no one may recognise {t}",
             "{t} should stay secret", "{t} reveals who this is", "we have to protect {t}",
             "{t} must not appear in the report", "{t} is confidential", "{t} can't be shown",
             "{t} should not be readable", "{t} must stay anonymous"],
    "infrared": ["{t} disappears into the night", "I can barely see {t}", "{t} blends into the background",
                 "{t} is invisible", "{t} needs to stand out", "{t} is lost in the dark", "{t} vanishes",
                 "{t} is hard to spot", "{t} fades into the bushes", "I can't make out {t} at all",
                 "{t} is hidden in the dark", "I keep missing {t}", "{t} is barely visible",
                 "{t} melts into the shadows", "you can hardly see {t}", "{t} gets lost at night",
                 "{t} is swallowed by the darkness", "{t} is a ghost, I need to see it"],
    "visible": ["{t} looks like a heat map", "{t} lost its colour", "{t} looks thermal and fake",
                "{t} looks ghostly", "I want the real colours of {t} back", "{t} has no texture left",
                "{t} looks like a heat signature", "{t} turned into a grey blob", "{t} looks unnatural",
                "the colours of {t} are gone", "{t} looks like a thermal picture", "{t} lost all its detail",
                "{t} is just a bright silhouette", "{t} looks artificial", "the texture of {t} is gone",
                "{t} looks like a heat blob", "{t} looks like a thermal scan", "{t} is a glowing mess"],
}
HELDOUT_TEMPLATES = 2  # the last templates of each list are held out

# Complaints built from parts: a frame ("{t} looks {q}", "why is {t} so {q}?") x a quality word of
# the task ("gloomy", "glaring", "speckled"). Templates alone teach sentences; these teach what a
# quality word asks for, in any frame. The last fifth of each list is held out (see _split).
QUALITIES: dict[str, list[str]] = {
    "brighten": ["dark", "dim", "gloomy", "murky", "shadowy", "black", "underexposed", "unlit", "dingy",
                 "too dark", "in the dark", "dull and dark", "hard to see in the shadows",
                 "lost in the shadows", "sunk in shadow", "pitch dark", "barely lit", "dusky", "dark as night"],
    "darken": ["bright", "glaring", "blinding", "blown out", "overexposed", "harsh", "dazzling", "burnt out",
               "too bright", "washed out", "searing", "piercing", "white hot", "flaring",
               "overpowering", "too strong", "garish", "clipped to white", "eye-watering"],
    "denoise": ["grainy", "noisy", "speckled", "gritty", "sandy", "full of static", "snowy", "fuzzy",
                "full of noise", "dotty", "pixelated with noise", "crackly", "spotty", "blotchy", "mottled",
                "full of specks", "rough with grain", "hazy with noise", "salt and pepper", "crawling with dots"],
    "blur": ["readable", "recognisable", "identifiable", "too easy to read", "legible", "clearly readable",
             "too recognisable", "easy to identify", "visible to everyone", "traceable", "exposed",
             "not anonymous", "too clear", "sharp enough to read", "plain to read", "in full view",
             "obvious", "too revealing", "uncensored", "still showing"],
    "infrared": ["invisible", "hidden", "camouflaged", "lost", "faint", "unseen", "hard to see", "hard to spot",
                 "barely there", "drowned out", "impossible to find", "buried in the background", "too faint",
                 "swallowed by the dark", "easy to miss", "indistinct", "unnoticeable", "blending in",
                 "vanishing", "not standing out"],
    "visible": ["fake", "ghostly", "artificial", "colourless", "grey", "flat", "plasticky", "cartoonish",
                "glowing", "like a heat map", "thermal looking", "unnatural", "waxy", "eerie", "lifeless",
                "like an x-ray", "bleached", "without texture", "like a silhouette", "radioactive"],
}
#: Frames for a quality word ({t}: the target phrase, {q}: the quality).
FRAMES = ["{t} is {q}", "{t} looks {q}", "{t} seems {q}", "{t} appears {q}", "{t} came out {q}",
          "{t} is so {q}", "{t} is really {q}", "{t} is kind of {q}", "why is {t} so {q}?", "{t} got {q}",
          "{t} still looks {q}", "{t}: {q}", "ugh, {t} is {q}", "{t} is {q}, fix it", "{t} looks {q} to me",
          "I think {t} is {q}", "{t} is a bit {q}", "{t} ended up {q}", "{t} is {q} in this shot",
          "{t} looks {q} here"]
#: Complaints about the whole image ({q}: a quality word): target None.
WHOLE_FRAMES = ["the image is {q}", "everything looks {q}", "the whole scene is {q}", "it's all {q}",
                "the picture looks {q}", "the frame is {q}", "this shot is {q}", "the entire image looks {q}"]
#: Frames that carry a strength of their own (the rule parser's values: "a bit", "kind of" 0.5,
#: "really" 2.0).
FRAME_STRENGTH = {"{t} is a bit {q}": 0.5, "{t} is kind of {q}": 0.5, "{t} is really {q}": 2.0}
#: The share of indirect clauses built from a frame and a quality word (the rest: templates).
QUALITY_SHARE = 0.4

#: What an indirect complaint may be about, per task.
INDIRECT_TARGETS: dict[str, list[str]] = {"brighten": SCENERY, "darken": LIGHTS + SCENERY[:6], "denoise": SCENERY,
                                          "blur": PRIVATE, "infrared": WARM, "visible": SCENERY + PEOPLE[:6]}
#: What a direct command may name, per task (others: scenery and warm things).
DIRECT_TARGETS: dict[str, list[str]] = {"blur": PRIVATE + PEOPLE, "darken": LIGHTS + SCENERY,
                                        "infrared": WARM + SCENERY, "visible": WARM + SCENERY}
WHOLE = {"brighten": ["everything is too dark", "the whole picture is too dark", "brighten the image",
                      "make it all brighter", "the image is underexposed"],
         "darken": ["the whole frame is too bright", "everything is washed out", "darken the image",
                    "make the picture darker", "the image is overexposed"],
         "denoise": ["the whole picture is grainy", "denoise the image", "remove the noise everywhere",
                     "the image is full of noise", "clean up the whole frame"],
         "blur": ["blur the whole image", "blur everything", "make the entire picture unreadable"],
         "infrared": ["make everything more thermal", "lean the whole image towards infrared",
                      "the image needs more heat everywhere", "I need the warm things to stand out everywhere"],
         "visible": ["the picture looks like a thermal camera, make it look like a photo",
                     "make everything look natural", "lean the whole image towards visible",
                     "bring back the colours everywhere"]}
NO_EDIT = ["hello", "hi there", "thanks", "thank you, that looks great", "what is this a picture of?",
           "how many people are in the image?", "is the car moving?", "nice work", "good morning",
           "what does the infrared show?", "never mind", "ok", "who is standing there?", "wow",
           "leave it like that", "I like it as it is", "can you explain what you did?", "what time was this taken?",
           "is this a thermal image?", "that's fine", "cool", "looks good to me", "where was this taken?",
           "undo is not needed", "great, thanks", "what can you do?"]
# Chatter that asks for no edit, built from parts so that a model learns the kind, not a list.
GREETINGS = ["hello", "hi", "hi there", "hey", "good morning", "good evening", "ok", "right", "so", "well"]
QUESTIONS = ["how many {t} are in the image?", "is {t} moving?", "what is {t} doing?", "where is {t}?",
             "can you see {t}?", "what colour is {t}?", "is that {t} or a shadow?", "how far away is {t}?",
             "why is {t} so bright in the infrared?", "which camera shows {t} better?", "is {t} warm?",
             "what is next to {t}?", "when was {t} photographed?", "who does {t} belong to?"]
FEEDBACK = ["thanks", "thank you", "nice", "perfect", "great", "looks good", "that's better", "much better",
            "I like it", "good job", "cool", "wow", "fine", "excellent", "brilliant"]
FEEDBACK_ABOUT = ["{t} looks great now", "{t} is fine as it is", "{t} is perfect now", "I like how {t} looks",
                  "{t} came out well", "{t} is exactly right"]
LEAVE_ALONE = ["don't touch {t}", "leave {t} alone", "do not change {t}", "keep {t} as it is",
               "no need to edit {t}", "{t} doesn't need anything"]
META = ["how does this work?", "which edits do you know?", "wait", "let me think", "what are you able to change?",
        "show me the original", "how long will that take?", "can I save this?", "what model are you?",
        "is the fusion finished?", "explain the layers to me", "which file is this?"]
POLITE = ["please {c}", "could you {c}", "can you {c}", "would you mind if we {c}", "{c}, thanks", "{c} please",
          "I'd like to {c}", "hey, {c}", "{c}, if possible", "let's {c}"]
COMPLAINT_TAILS = ["", ", fix it", ", can you help", ", please fix that", ", do something about it", ""]
JOINERS = [" and ", ", ", "; also ", ", then ", " and also "]


@dataclass(frozen=True)
class Clause:
    text: str
    edit: dict
    tags: tuple[str, ...]


def _article(rng: random.Random, target: str) -> str:
    if target.endswith("'s faces") or target in ("everything",):
        return target
    return rng.choice(["the ", "the ", "the ", "that ", ""]) + target


def _target(rng: random.Random, pool: Sequence[str], heldout: bool) -> tuple[str, str]:
    """(the phrase in the sentence, the plan's target)."""
    choices = [t for t in pool if (t in HELDOUT_TARGETS) == heldout] or list(pool)
    noun = rng.choice(choices)
    roll = rng.random()
    if roll < 0.15:
        noun = f"{noun} {rng.choice(MODIFIERS)}"
    elif roll < 0.3 and " " not in noun:
        noun = f"{rng.choice(ADJECTIVES)} {noun}"
    return _article(rng, noun), noun


def _templates(table: dict[str, list[str]], task: str, heldout: bool) -> list[str]:
    items = table[task]
    return items[-HELDOUT_TEMPLATES:] if heldout else items[:-HELDOUT_TEMPLATES]


def direct_clause(rng: random.Random, task: str, heldout: bool) -> Clause:
    pool = DIRECT_TARGETS.get(task, SCENERY + WARM)
    phrase, target = _target(rng, pool, heldout)
    strength, words = 1.0, ""
    if rng.random() < 0.3:
        strength = rng.choice(list(STRENGTHS))
        words = " " + rng.choice(STRENGTHS[strength])
    text = rng.choice(_templates(DIRECT, task, heldout)).format(t=phrase, s=words)
    return Clause(text, {"task": task, "target": target, "strength": strength},
                  ("direct",) + (("strength",) if strength != 1.0 else ()))


def quality_clause(rng: random.Random, task: str, heldout: bool) -> Clause:
    """A complaint made of a frame and one of the task's quality words (see QUALITIES)."""
    quality = rng.choice(_split(QUALITIES[task], heldout))
    if rng.random() < 0.12:
        text = rng.choice(_split(WHOLE_FRAMES, heldout)).format(q=quality)
        return Clause(text, {"task": task, "target": None, "strength": 1.0}, ("indirect", "quality", "whole"))
    phrase, target = _target(rng, INDIRECT_TARGETS[task], heldout)
    frame = rng.choice(_split(FRAMES, heldout))
    text = frame.format(t=phrase, q=quality)
    strength = FRAME_STRENGTH.get(frame, 1.0)
    text = text[0].upper() + text[1:] if rng.random() < 0.3 else text
    return Clause(text, {"task": task, "target": target, "strength": strength},
                  ("indirect", "quality") + (("strength",) if strength != 1.0 else ()))


def indirect_clause(rng: random.Random, task: str, heldout: bool) -> Clause:
    if rng.random() < QUALITY_SHARE:
        return quality_clause(rng, task, heldout)
    phrase, target = _target(rng, INDIRECT_TARGETS[task], heldout)
    text = rng.choice(_templates(INDIRECT, task, heldout)).format(t=phrase)
    strength = 1.0
    if rng.random() < 0.15 and " too " in f" {text} ":
        strength, word = rng.choice([(0.5, "a bit too"), (0.5, "slightly too"), (2.0, "much too")])
        text = text.replace("too", word, 1)
    text = text[0].upper() + text[1:] if rng.random() < 0.3 else text
    return Clause(text, {"task": task, "target": target, "strength": strength},
                  ("indirect",) + (("strength",) if strength != 1.0 else ()))


def _split(items: Sequence[str], heldout: bool) -> Sequence[str]:
    """The last item of a short list (the last fifth of a longer one) is held out."""
    cut = len(items) - max(1, len(items) // 5)
    return items[cut:] if heldout else items[:cut]


def whole_clause(rng: random.Random, task: str, heldout: bool) -> Clause:
    text = rng.choice(_split(WHOLE[task], heldout))
    return Clause(text, {"task": task, "target": None, "strength": 1.0}, ("whole",))


def typo(rng: random.Random, text: str, keep: Sequence[str]) -> str:
    """One swapped, dropped or doubled letter in a word that is not part of a target."""
    words = text.split(" ")
    protected = {w for phrase in keep for w in phrase.split()}
    spots = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha() and w.lower() not in protected]
    if not spots:
        return text
    i = rng.choice(spots)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.random()
    if kind < 0.4:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif kind < 0.7:
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


TASKS = tuple(DIRECT)


def chatter(rng: random.Random, heldout: bool) -> str:
    """A line that asks for no edit: a greeting, a question about the image, feedback, a request
    to leave something alone, or a question about the editor, alone or after a greeting."""
    kind = rng.random()
    if kind < 0.1:
        return rng.choice(_split(NO_EDIT, heldout))
    phrase = _target(rng, SCENERY + WARM + LIGHTS, heldout)[0]
    if kind < 0.35:
        line = rng.choice(_split(QUESTIONS, heldout)).format(t=phrase)
    elif kind < 0.5:
        line = rng.choice(_split(FEEDBACK_ABOUT, heldout)).format(t=phrase)
    elif kind < 0.65:
        line = rng.choice(_split(LEAVE_ALONE, heldout)).format(t=phrase)
    elif kind < 0.8:
        line = rng.choice(_split(META, heldout))
    else:
        line = rng.choice(_split(FEEDBACK, heldout))
    if rng.random() < 0.3:
        line = rng.choice(_split(GREETINGS, heldout)) + ", " + line
    return line[0].upper() + line[1:] if rng.random() < 0.3 else line


def generate_one(rng: random.Random, heldout: bool = False) -> dict:
    roll = rng.random()
    if roll < 0.07:
        return {"text": chatter(rng, heldout), "edits": [], "tags": ["no-edit"]}
    count = 1 if roll < 0.7 else (2 if roll < 0.95 else 3)
    clauses = []
    for _ in range(count):
        task = rng.choice(TASKS)
        kind = rng.random()
        if kind < 0.08:
            clauses.append(whole_clause(rng, task, heldout))
        elif kind < 0.55:
            clauses.append(indirect_clause(rng, task, heldout))
        else:
            clauses.append(direct_clause(rng, task, heldout))
    text = clauses[0].text
    for clause in clauses[1:]:
        text += rng.choice(JOINERS) + clause.text[0].lower() + clause.text[1:]
    tags = sorted({t for c in clauses for t in c.tags} | ({"multi"} if count > 1 else set()))
    if all("direct" in c.tags for c in clauses) and rng.random() < 0.35:
        text = rng.choice(POLITE).format(c=text)
        tags.append("polite")
    elif any("indirect" in c.tags for c in clauses) and count == 1:
        text += rng.choice(COMPLAINT_TAILS)
    if rng.random() < 0.05:
        text = rng.choice(_split(GREETINGS, heldout)) + ", " + text
    if rng.random() < 0.1:
        text = typo(rng, text, [c.edit["target"] for c in clauses if c.edit["target"]])
        tags.append("typo")
    return {"text": text, "edits": [c.edit for c in clauses], "tags": tags}


def generate(count: int, seed: int = 0, part: str = "train") -> Iterator[dict]:
    """``count`` distinct items of the ``train`` or ``heldout`` part."""
    if part not in ("train", "heldout"):
        raise ValueError("part is 'train' or 'heldout'")
    rng = random.Random(f"{part}-{seed}")
    seen: set[str] = set()
    tries = 0
    while len(seen) < count and tries < count * 20:
        tries += 1
        item = generate_one(rng, heldout=part == "heldout")
        if item["text"] in seen:
            continue
        seen.add(item["text"])
        yield item


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m terf_studio.language.training.commands --count N --part train -o FILE``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="write a generated command set as JSON lines")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--part", choices=["train", "heldout"], default="train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    with open(args.output, "w", encoding="utf-8") as out:
        for item in generate(args.count, args.seed, args.part):
            out.write(json.dumps(item) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
