"""The words the rule parser knows.

Every entry is a lower-case word or phrase (words separated by single
spaces).  The tables are plain data so that adding a synonym is a one-line
change; ``tests/test_language.py`` checks that they stay consistent.

Kinds of entries:

* **verbs** name a task directly ("brighten", "redact", "stand out").
* **concepts** are nouns/adjectives whose task depends on polarity:
  ``(task when increased, task when decreased, form)``.  "more light" is
  brighten, "less light" is darken; "the alley is dark" (a state, i.e. a
  complaint) is brighten.  ``form`` is "noun", "adj" (positive degree, flips
  after a copula: "the road is dark"), "cmp" (comparative: "brighter") or
  "fixed" (names a problem whose fix is always the same task: "noise",
  "glare", "underexposed").
* **polarity** words say whether a concept goes up or down ("reduce",
  "more", "too", "get rid of").
* **strength** words come from :data:`terf_studio.language.plan.STRENGTH_WORDS`.
* **whole-image** words mean the edit applies to everything.
* **fillers** carry no meaning for the plan ("please", "could you", "make").
"""

from __future__ import annotations

from .plan import STRENGTH_WORDS, Task

B, D, N, BL, IR, V = (
    Task.BRIGHTEN,
    Task.DARKEN,
    Task.DENOISE,
    Task.BLUR,
    Task.INFRARED,
    Task.VISIBLE,
)


def _words(spec: str) -> list[str]:
    return [w.strip() for w in spec.split("|") if w.strip()]


# --- verbs: word/phrase -> task -------------------------------------------
VERBS: dict[str, Task] = {}
for _task, _spec in (
    (B, "brighten|brightens|brightening|brightened|brighten up|lighten|lightens|"
        "lightening|lighten up|illuminate|illuminates|illuminating|light up|"
        "expose|exposes|lift the shadows|lift shadows|open up the shadows|"
        "relight|unshade|brighter please"),
    (D, "darken|darkens|darkening|darkened|deglare|de-glare|dim down|"
        "deepen the shadows|shade"),
    (N, "denoise|denoises|denoising|denoised|de-noise|de-noising|de noise|"
        "clean up|cleanup|smooth out|smoothen|smooth|noise reduction|"
        "noise removal|declutter|despeckle|de-speckle|degrain|de-grain|clean"),
    (BL, "blur|blurs|blurring|blur out|redact|redacts|redacting|pixelate|"
         "pixelates|pixelating|pixelise|pixelize|obscure|obscures|anonymise|"
         "anonymize|anonymising|anonymizing|censor|censors|hide|hides|conceal|"
         "smudge|smear|black out|blot out|fuzz out|mosaic"),
    (IR, "stand out|stands out|highlight|highlights|pop|pops|spotlight|"
        "infraredify|thermalize|thermalise"),
    (V, "sharpen|sharpens|sharpening|recolour|recolor|colourise|colorize|"
        "colorise|colourize"),
):
    for _w in _words(_spec):
        VERBS[_w] = _task

# --- concepts: word/phrase -> (task up, task down, form) ------------------
CONCEPTS: dict[str, tuple[Task, Task, str]] = {}
for _up, _down, _form, _spec in (
    (B, D, "noun", "brightness|luminance|luminosity|exposure|illumination|"
                   "lighting|light|lightness|brightness level|exposure level|"
                   "light level|light levels|gamma"),
    (B, D, "adj", "bright|luminous|lit|well lit"),
    (B, D, "cmp", "brighter|lighter|more lit|better lit|more exposed|"
                  "more luminous"),
    (D, B, "noun", "darkness|shadow|shadows"),
    (D, B, "adj", "dark|dim|gloomy|murky|shadowy|shady|unlit|dull"),
    (D, B, "cmp", "darker|dimmer|gloomier|less lit"),
    (B, B, "fixed", "underexposed|under-exposed|under exposed|too dark|"
                    "pitch black|pitch dark"),
    (D, D, "fixed", "overexposed|over-exposed|over exposed|glare|glares|"
                    "glaring|glary|blinding|dazzling|dazzle|blown out|"
                    "washed out|burnt out|burned out|bloom|blooming|halo|"
                    "haloes|halos|flare|flares|lens flare|too bright"),
    (N, N, "fixed", "noise|noisy|noises|grain|grainy|graininess|grains|"
                    "speckle|speckles|speckled|speckly|speckle noise|static|"
                    "artifacts|artefacts|artifact|artefact|sensor noise|"
                    "thermal noise|image noise|salt and pepper|"
                    "salt and pepper noise|salt-and-pepper|"
                    "salt-and-pepper noise|gaussian noise|random noise|"
                    "noise level|noise levels|snowy noise|jpeg artifacts|"
                    "compression artifacts|dots|spots|specks|fuzz|hiss|"
                    "noisiness|noisey|dirty"),
    # what cannot be seen is what the thermal channel shows ("the cows are invisible"); "hard to
    # see" and "can't see" are left to the model: a dark place wants light ("can't see anything
    # in the garage"), a person or animal wants infrared
    (IR, IR, "fixed", "invisible|not visible|barely visible|hardly visible|scarcely visible|"
                      "not very visible|poorly visible|hard to spot|hard to make out|"
                      "impossible to spot|impossible to make out|can not make out|vanish|vanishes|"
                      "vanished|vanishing|disappear|disappears|disappeared|disappearing|"
                      "blends in|blend in|blending in|blends into|blend into"),
    # something that must not be seen or recognised is blurred ("the logo should not be visible")
    (BL, BL, "fixed", "should not be visible|must not be visible|mustn't be visible|"
                      "may not be visible|should not be seen|must not be seen|mustn't be seen|"
                      "identifies him|"
                      "identifies her|identifies them|privacy problem|privacy issue|"
                      "privacy concern|privacy reasons"),
    (BL, V, "adj", "blurry|blurred|blurrier|fuzzy|unreadable|illegible|"
                   "unrecognisable|unrecognizable|anonymous|pixelated|"
                   "out of focus"),
    # "keep the face hidden" blurs; "the lorry is hidden" (a complaint) wants it seen
    (BL, IR, "adj", "hidden|concealed"),
    (BL, V, "noun", "blur|blurriness|blurring"),
    (V, BL, "adj", "sharp|sharper|crisp|crisper|clearer|readable|legible|recognisable|"
                   "recognizable|identifiable"),
    (IR, V, "noun", "infrared|infra-red|infra red|ir|thermal|heat|"
                   "infrared image|infrared picture|infrared view|"
                   "infrared camera|infrared channel|infrared band|"
                   "infrared information|infrared info|infrared look|"
                   "infrared side|infrared source|infrared input|"
                   "infrared data|infrared signal|infrared content|"
                   "infrared detail|infrared details|"
                   "ir image|ir picture|ir view|ir camera|ir channel|ir look|"
                   "ir information|ir info|ir band|ir source|ir input|ir side|"
                   "thermal image|thermal picture|thermal view|thermal camera|"
                   "thermal channel|thermal band|thermal information|"
                   "thermal info|thermal look|thermal side|thermal source|"
                   "thermal input|thermal data|thermal signal|thermal content|"
                   "thermal detail|thermal details|thermal signature|"
                   "thermal signatures|thermal contrast|thermal radiation|"
                   "heat signature|heat signatures|heat map|heatmap|"
                   "heat information|heat info|temperature|temperatures|"
                   "lwir|mwir|nir|thermography|thermals|heat image|"
                   "infrared-ish|thermal-ish|warmth|thermally|infrared like|"
                   "thermal like|thermic"),
    (IR, V, "adj", "salient|prominent|conspicuous|noticeable|standout|"
                  "more salient|eye-catching|hot|warm"),
    (IR, V, "noun", "saliency|salience|prominence"),
    (V, IR, "noun", "visible|visible image|visible picture|visible view|"
                   "visible camera|visible channel|visible band|visible light|"
                   "visible light image|visible spectrum|visible information|"
                   "visible info|visible side|visible source|visible input|"
                   "visible data|visible look|visible content|visible details|"
                   "visible detail|visible-light|visible-light image|"
                   "vis image|vis|rgb|rgb image|rgb picture|rgb camera|rgb view|"
                   "optical|optical image|optical camera|optical view|"
                   "colour image|color image|colour camera|color camera|"
                   "daylight image|daylight camera|daylight view|"
                   "colour|color|colours|colors|colouring|coloring|"
                   "texture|textures|detail|details|fine detail|fine details|"
                   "texture detail|texture details|textural detail|"
                   "colour information|color information|true colour|"
                   "true color|natural colour|natural color|natural colours|"
                   "natural colors|natural look|realism|saturation|"
                   "visual detail|visual details|chroma|hue|hues"),
    (V, IR, "adj", "colourful|colorful|textured|detailed|natural|realistic|"
                  "lifelike|true to life|true-to-life|vivid|naturalistic|"
                  "more visible"),
):
    for _w in _words(_spec):
        CONCEPTS[_w] = (_up, _down, _form)

# --- polarity -------------------------------------------------------------
POLARITY_UP = set(_words(
    "more|increase|increases|increased|increasing|boost|boosts|boosted|raise|"
    "raises|raised|add|adds|adding|enhance|enhances|enhanced|emphasise|"
    "emphasize|emphasises|emphasizes|emphasis on|strengthen|strengthens|"
    "turn up|bring out|bring back|bring up|bring in|amplify|amplifies|"
    "intensify|intensifies|show|shows|showing|reveal|reveals|improve|improves|"
    "heighten|restore|restores|recover|recovers|not enough|too little|"
    "needs more|need more|higher|stronger|pump up|maximise|maximize|accentuate|"
    "crank up|dial up|ramp up|push up|push|lift|up the|keep more|keep|"
    "retain|preserve|full of|lacks|lacking|missing|insufficient|"
    "extra|additional|greater|plenty of|bump up|put|bring|give more|with more|"
    "accentuate|accent|stress"
))
POLARITY_DOWN = set(_words(
    "less|reduce|reduces|reduced|reducing|lower|lowers|lowered|lowering|"
    "decrease|decreases|decreased|decreasing|diminish|cut|cut down|cut back|"
    "weaken|weakens|remove|removes|removed|removing|get rid of|rid of|"
    "eliminate|eliminates|suppress|suppresses|suppressing|tone down|"
    "turn down|dial down|minimise|minimize|drop|kill|take out|take away|"
    "fewer|too|too much|too many|no|not|lose|attenuate|lessen|limit|"
    "mute|compensate for|correct|correct for|fix|fixes|lesser|weaker|"
    "erase|strip|strip out|filter|filter out|clear|clear up|clear out|"
    "get out|knock down|knock back|pull back|back off|soften|subdue|"
    "counter|counteract|cancel|mitigate|tame|calm|calm down|rein in|"
    "excessive|excess|overly|bring down"
))
#: task verbs whose noun, after an article, names a quality instead ("bring down the highlights":
#: the bright parts); other task verbs after an article are target words ("the spotlight").
NOUN_SENSES: dict[str, tuple[Task, Task, str]] = {
    "highlights": (D, D, "fixed"),
    "highlight": (D, D, "fixed"),
}
#: polarity words that name a task on their own when the clause has no task
#: word ("tone down the street light").
POLARITY_DEFAULT_TASK = {
    "tone down": D, "turn down": D, "dial down": D, "knock down": D, "knock back": D,
    "turn up": B, "crank up": B, "dial up": B, "pump up": B, "bump up": B,
}
#: polarity words that become a strength when nothing follows them.
SOFT_POLARITY = {"more": 1.5, "less": 0.5}

# --- whole image ----------------------------------------------------------
WHOLE_IMAGE_PHRASES = set(_words(
    "everything|overall|everywhere|globally|global|all over|throughout|"
    "whole image|entire image|whole picture|entire picture|whole photo|"
    "entire photo|whole frame|entire frame|whole scene|entire scene|"
    "whole thing|entire thing|all of it|in general|full image|full frame|"
    "whole view|entire view|all areas|every area|all regions|every region|"
    "all parts|whole|entire|everything else|across the board"
))
#: a target that is only one of these nouns means the whole image.
WHOLE_IMAGE_NOUNS = set(_words(
    "image|picture|photo|photograph|frame|scene|shot|pic|fused image|"
    "fused picture|fusion|fusion result|result|output|view|everything|"
    "all|it all|whole|entire|fused result|fused output|composite|img"
))

# --- fillers, copulas, pronouns, negation ---------------------------------
FILLERS = set(_words(
    "please|pls|plz|kindly|could|can|would|will|you|u|i|we|me|us|want|wanna|"
    "like|need|needs|needed|should|shall|must|be|being|been|make|makes|"
    "making|made|let|lets|go|just|also|try|apply|applying|give|get|gets|"
    "getting|do|does|did|done|lean|leans|leaning|towards|toward|closer|"
    "shift|shifts|bias|biased|favour|favor|favours|favors|favouring|"
    "favoring|prefer|use|using|switch|effect|version|mode|thanks|thank|"
    "cheers|now|again|hey|hi|hello|ok|okay|so|mind|great|nice|if|better|"
    "enough|information|info|contribution|influence|weight|weighting|"
    "amount|level|levels|tone|tones|look|looking|as|"
    "kind|sort|feel|more like|look like|looks like|looked like|seems like|seem like|closer to|similar to|"
    "resemble|resembles|style|appearance|rendering|render|tint|flavour|"
    "flavor|bias towards|preference|dominant|dominate|leaning|weighted|"
    "prioritise|prioritize|priority|rely|rely on|based on|taken from|"
    "source|sourced|mostly|mainly|mix|blend|balance|for me|thank you|"
    "ta|cheers|asap|quickly|now please|there|here|really please|"
    "awesome|brilliant|lovely|perfect|great please|it would be great|"
    "would like|i'd|id|i'm|im|want to|could you|would you|can you|"
    "you please|are you able to|able|is it possible to|possible|would it|"
    "wonder|wondering|maybe|perhaps|possibly|ideally|kind of like|"
    # tails that ask for a fix without naming one: "..., do something about it", "can you help"
    "help|something|anything|do something about it|do something|deal with it|deal with that|"
    "take care of it|take care of that|handle it|sort it|sort that|"
    # where something is lost is not what to change: "the people vanish in the dark"
    "in the dark|into the dark|in the darkness|into the darkness|in the night|into the night|at night|"
    # who may see it is not what to change: "..., nobody may recognise her"
    "nobody|no one|anyone|anybody|may|recognise|recognize|recognises|recognizes|identify"
))
#: words after which the rest of a clause is ignored (exclusions are not
#: supported: "brighten everything except the sky" brightens everything).
STOP_WORDS = set(_words(
    "without|except|except for|apart from|but not|other than|excluding|"
    "but leave|but keep|leaving|not including"
))
#: strength words that count only before "too", "more", "less" or a task word
#: ("way too dark", "far brighter"), since they are also ordinary words
#: ("the man on the far left").
CONDITIONAL_STRENGTH = {"far": 2.0, "way": 2.0}

COPULAS = set(_words(
    "is|are|was|were|am|looks|look|seems|seem|appears|appear|gets|get|"
    "getting|feels|feel|remains|remain|stays|stay|became|becomes|has become|"
    "has|have|had|is getting|are getting|seem to be|seems to be|looks to be|"
    "'s|s|"
    # verbs of change that end a subject: "the mountains lost their texture"
    "lost|has lost|have lost|loses|turned|turns|has turned|went|ended up|came out|comes out"
))
#: copulas after which a concept noun is said of the subject ("the markings look thermal": less
#: infrared); "has" is not one of them ("the wall has texture").
PREDICATIVE_COPULAS = set(_words(
    "is|are|was|were|looks|look|seems|seem|appears|appear|feels|feel|became|becomes|"
    "remains|remain|stays|stay|seems to be|seem to be|looks to be"
))
#: after these, a concept noun names what is wrong ("the trees look like a heat map": less
#: infrared), unless a wish word came before ("make the trees look like a heat map").
RESEMBLANCE = set(_words("look like|looks like|looked like|seems like|seem like|resembles|resemble"))
#: words that make the next adjective a wish ("make the road bright") rather
#: than a complaint ("the road is bright").
WISH_WORDS = set(_words("make|makes|making|let|want|wanna|should|need|needs|be|to|like|would|could|can"))

PRONOUNS = set(_words("it|them|they|those|these|that|this|him|her|he|she|its|their|theirs"))
#: a command that opens with one of these (and names no task verb) asks about the image
#: ("what does the infrared channel show?", "how many people are there?"): no edit. "Why" and
#: "where" are left out: "why is the sky so bright?", "where did the runner go?" are complaints.
QUESTION_OPENINGS = set(_words(
    "what|which|who|whom|whose|when|how many|how much|how old|how far|how big|how bright|"
    "how dark|how noisy|how hot|how warm|how cold|is there|are there"
))
NEGATIONS = set(_words("not|never|no|don't|dont|do not|does not|doesn't|please don't|stop"))

DETERMINERS = set(_words(
    "the|a|an|this|that|these|those|all|every|my|our|its|their|his|her|some|"
    "any|each|both|your|which|whose|what|the whole|the entire"
))
PREPOSITIONS = set(_words(
    "on|in|of|for|from|at|to|around|across|over|under|inside|within|near|"
    "along|onto|into|throughout|with|by|about|off|behind|beside|between|above|"
    "below|up|down|out|upon|through|against|among|amongst|beneath|outside|"
    "next|nearby|underneath|via|per|than"
))
#: a later run "on the left" / "in the background" joins the target before it.
POSITION_WORDS = set(_words(
    "left|right|top|bottom|middle|centre|center|background|foreground|side|"
    "corner|front|back|distance|edge|edges|horizon|far|near|upper|lower|"
    "left-hand|right-hand|top-left|top-right|bottom-left|bottom-right|"
    "upper-left|upper-right|lower-left|lower-right|periphery|border|borders"
))

#: clause separators (tokens) and how they join clauses.
SPLITTERS = {
    ",": "list", ";": "seq", ".": "seq", "!": "seq", "?": "seq", ":": "colon",
    "and": "list", "&": "list", "plus": "list", "as well as": "list",
    "then": "seq", "and then": "seq", "also": "list", "and also": "list",
    "after that": "seq", "afterwards": "seq", "finally": "seq",
    "followed by": "seq", "but": "seq", "while": "seq", "whilst": "seq",
    "and afterwards": "seq", "together with": "list", "along with": "list",
}

#: compound nouns that contain a task word but name a thing to select
#: ("tone down the street light" darkens the street light).
NOUN_COMPOUNDS = set(_words(
    "street light|street lights|streetlight|streetlights|traffic light|"
    "traffic lights|light pole|light poles|lamp post|headlight|headlights|"
    "tail light|tail lights|taillight|taillights|brake light|brake lights|"
    "light bulb|light bulbs|light source|light sources|floodlight|floodlights|"
    "flood light|flood lights|ceiling light|ceiling lights|porch light|"
    "light fixture|light fixtures|dark matter|hot spot|hot spots|hotspot|"
    "hotspots|heat sink|heat lamp|heater|colour chart|color chart|"
    "blur filter|shadow puppet|night sky|noise barrier|noise barriers|"
    "sound barrier|glare shield|sun visor"
))

#: the surface or colour of an object: "the car paint", "the bricks of the wall", "the red of the
#: postbox" name the object's region (terf_studio.language.targets).
SURFACE_WORDS = set(_words(
    "paint|paintwork|bricks|brickwork|tiles|lettering|writing|texture|textures|surface|surfaces|"
    "colour|colours|color|colors|hue|hues|finish|coating|plaster|render"
))
#: colours said as nouns ("the red of the postbox"); only before "of", since after a noun
#: they describe it ("the man in red").
COLOUR_NOUNS = set(_words("red|reds|green|greens|blue|blues|yellow|yellows|orange|pink|purple|brown"))
#: how a surface or colour is joined to its object ("the paint *of* the car"; "on" places it
#: instead: "the bricks on the chimney" are bricks).
SURFACE_LINKS = set(_words("of"))
#: single words that describe a region rather than name one ("the spotlight is way too *strong*"):
#: never a target on their own.
DESCRIPTIVE_WORDS = set(_words(
    "strong|weak|harsh|bad|ugly|wrong|weird|fake|strange|odd|terrible|awful|horrible|poor|fine|"
    "good|visible|invisible|hard|easy|impossible|possible|gone|lost|real|natural|normal|"
    "overpowering|overwhelming|intense|extreme|blinding|annoying|distracting|unreadable|readable|"
    "messy|flat|dull|fuzzy|ghostly|unnatural|unrealistic|artificial|everywhere|anywhere|somewhere"
))

#: words never "corrected" into vocabulary by the typo matcher.
PROTECTED_WORDS = set(_words(
    "right|left|night|sight|tight|might|fight|height|weight|eight|flight|"
    "knight|light|lights|slight|bright|nose|noses|noisy|clear|clean|dart|"
    "mark|park|bark|lark|side|wide|tide|ride|bride|slide|glass|flower|"
    "flowers|tower|power|lower|shower|lake|cake|book|books|hook|house|"
    "mouse|horse|tree|trees|street|streets|sheet|road|roads|toad|sky|car|"
    "cars|man|men|woman|women|person|people|dog|dogs|cat|cats|face|faces|"
    "plate|plates|sign|signs|wall|walls|door|doors|window|windows|boat|"
    "boats|water|grass|bush|bushes|field|fields|building|buildings|bridge|"
    "bridges|truck|trucks|bus|van|bike|bicycle|rider|driver|child|kid|"
    "kids|road sign|lamp|lamps|pole|poles|fence|gate|roof|field|forest|"
    "river|sea|ocean|beach|hill|hills|mountain|mountains|cloud|clouds|"
    "smoke|fire|flame|flames|snow|rain|fog|mist|deer|horse|animal|animals|"
    "bird|birds|soldier|soldiers|helmet|jacket|shirt|coat|hat|bag|text|"
    "logo|number|numbers|name|label|screen|monitor|phone|laptop|bench|"
    "chair|table|pavement|sidewalk|path|track|rail|railway|train|plane|"
    "drone|ship|tank|gun|weapon|house|houses|shop|store|hotel|school|"
    "church|parking|lot|alley|corner|entrance|exit|doorway|stairs|steps|"
    "shadow|glare|noise|dark|darker|dim|hot|heat|warm|cold|more|less|"
    "most|least|lamp|lamps|nice|mice|rice|dice|slice|twice|price|bite|"
    "white|black|grey|gray|red|blue|green|yellow|orange|pink|purple|"
    "brown|silver|gold|front|back|top|bottom|middle|centre|center|edge|"
    "horizon|distance|foreground|background|dishes|fish|wish|dish|"
    # words of a scene that sit close to task words ("sandy" is not a typo of "shady")
    "sandy|sand|muddy|dusty|rusty|rocky|grassy|leafy|foggy|misty|hazy|cloudy|rainy|snowy|"
    "icy|shiny|glossy|wooden|metal|stone|brick|concrete|plastic|sunny|windy|stormy"
))


def _phrase_table() -> dict[tuple[str, ...], tuple[str, object]]:
    """All multi-kind phrases as token tuples -> (kind, payload).

    When a phrase appears in several tables the first kind here wins, in this
    order: splitter, noun compound, stop, whole-image, strength, verb, concept, polarity, negation, copula,
    pronoun, filler.
    """
    table: dict[tuple[str, ...], tuple[str, object]] = {}

    def put(words: str, kind: str, payload: object = None) -> None:
        key = tuple(words.split())
        table.setdefault(key, (kind, payload))

    for w, how in SPLITTERS.items():
        put(w, "split", how)
    for w in NOUN_COMPOUNDS:
        put(w, "word")
    for w in STOP_WORDS:
        put(w, "stop")
    for w in WHOLE_IMAGE_PHRASES:
        put(w, "whole")
    for w, s in STRENGTH_WORDS.items():
        put(w, "strength", s)
    for w, t in VERBS.items():
        put(w, "verb", t)
    for w, c in CONCEPTS.items():
        put(w, "concept", c)
    for w in POLARITY_UP:
        put(w, "pol", +1)
    for w in POLARITY_DOWN:
        put(w, "pol", -1)
    for w in NEGATIONS:
        put(w, "neg")
    for w in COPULAS:
        put(w, "copula")
    for w in PRONOUNS:
        put(w, "pronoun")
    for w in FILLERS:
        put(w, "filler")
    return table


PHRASES = _phrase_table()
MAX_PHRASE_WORDS = max(len(k) for k in PHRASES)

#: single words a typo can be corrected into, by kind.
TASK_WORDS = sorted(
    {w for w in list(VERBS) + list(CONCEPTS) if " " not in w and len(w) >= 4}
)
OTHER_WORDS = sorted(
    {
        w
        for w in list(STRENGTH_WORDS) + list(POLARITY_UP) + list(POLARITY_DOWN) + list(FILLERS)
        if " " not in w and len(w) >= 5
    }
)

del _task, _spec, _w, _up, _down, _form
