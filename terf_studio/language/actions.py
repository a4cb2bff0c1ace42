"""Editor actions typed as commands: "undo that", "again", "stronger", "too much".

Some commands ask nothing of the image itself but of the editor's history: undo or redo the
latest step, apply it once more, or make it stronger or weaker. A command is read as an action
only when *every* word of it is an action phrase, a strength word, a count ("twice") or a word
that carries no edit (please, that, it, the last step, ...). A single task word or target keeps it
an edit: "brighten the trees again" repeats nothing by itself, it is an ordinary edit, and "undo
the blur on the plate" is not taken for an undo of whatever step came last.

Strength of stronger / weaker: the latest step's strength is multiplied (stronger) or divided
(weaker) by ``1 + 0.5 * s``, where ``s`` is the strength word's value (1 when none): "stronger"
x1.5, "a bit stronger" x1.25, "much stronger" x2.
"""

from __future__ import annotations

from collections.abc import Mapping

from .plan import MAX_TIMES, STRENGTH_WORDS, ActionName, EditorAction
from .words import tokenise


def _table(spec: Mapping[ActionName, str]) -> dict[tuple[str, ...], ActionName]:
    return {tuple(phrase.split()): name for name, phrases in spec.items() for phrase in phrases.split("|")}


#: Action phrases (lower case, as :func:`tokenise` writes them: "don't" is "do not").
ACTION_PHRASES = _table({
    ActionName.UNDO: "undo|undo it|revert|revert it|go back|step back|take back|take it back|roll back|"
                     "rollback|back out|cancel that|scrap that|scratch that|drop that|forget that|"
                     "i do not like that|i do not like it|not like that|that is worse|that was worse|"
                     "put it back how it was|put it back the way it was|as it was|like it was|like before",
    ActionName.REDO: "redo|redo it|bring it back|put it back|restore it|i changed my mind|"
                     "changed my mind|undo the undo",
    ActionName.AGAIN: "again|once more|one more time|repeat|repeat it|same again|more of the same|"
                      "another one|another time|do it again|do that again|same thing again|"
                      "one more|again please",
    ActionName.STRONGER: "stronger|more|harder|further|go further|push it|push it further|"
                         "not enough|too subtle|too weak|too little|too faint|too mild|"
                         "increase the strength|raise the strength|more strength|stronger effect|"
                         "increase it|intensify|intensify it|amplify|amplify it|boost it|"
                         "turn it up|crank it up|exaggerate it|keep going",
    ActionName.WEAKER: "weaker|less|softer|milder|gentler|too much|too strong|too far|overdone|"
                       "overdid it|over done|too harsh|too heavy|too intense|dial it back|"
                       "tone it down|turn it down|back off|ease off|ease up|reduce the strength|"
                       "lower the strength|less strength|weaker effect|not so much|not as much|"
                       "not that much|reduce it|calm it down|pull back|pull it back",
})

#: Words that carry no edit around an action ("please undo that last step, thanks").
NEUTRAL_WORDS = frozenset(
    "please pls plz kindly could can would will you u i we me let us lets just now ok okay "
    "so oh oops hmm hm um uh ugh wait sorry actually no nope yes yeah yep hey right well then "
    "that this it its the a an last latest previous recent edit step change changes one thing "
    "what which you just did done made make it is was be a thanks thank cheers "
    "to go do effect look result strength maybe perhaps try again's".split()
)

#: Counts for undo, redo and again ("undo twice", "undo the last three steps").
COUNT_WORDS = {"once": 1, "twice": 2, "thrice": 3, "two": 2, "three": 3, "four": 4, "five": 5,
               "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "times": 0, "steps": 0, "edits": 0,
               "changes": 0}

#: Strength words; "way" and "far" count here too ("way too much"), where no region can follow.
_STRENGTH_PHRASES = {**{tuple(w.split()): v for w, v in STRENGTH_WORDS.items()}, ("way",): 2.0, ("far",): 2.0}
_LONGEST = max(len(k) for k in (*ACTION_PHRASES, *_STRENGTH_PHRASES))


def read_action(text: str) -> EditorAction | None:
    """The editor action ``text`` asks for, or None when it asks for anything else (an edit,
    chatter, nothing)."""
    tokens = [t for t in tokenise(text) if t not in {",", ";", ".", "!", "?", ":", "&"}]
    names: list[ActionName] = []
    strengths: list[float] = []
    times: list[int] = []
    i = 0
    while i < len(tokens):
        for n in range(min(_LONGEST, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + n])
            if key in ACTION_PHRASES:
                names.append(ACTION_PHRASES[key])
                break
            if key in _STRENGTH_PHRASES and key != ("more",):
                strengths.append(_STRENGTH_PHRASES[key])
                if key[-1] == "more":  # "much more", "a lot more": a strength and a stronger
                    names.append(ActionName.STRONGER)
                break
        else:
            word = tokens[i]
            if word.isdigit() and 0 < int(word) <= MAX_TIMES:
                times.append(int(word))
            elif word in COUNT_WORDS:
                if COUNT_WORDS[word]:
                    times.append(COUNT_WORDS[word])
            elif word not in NEUTRAL_WORDS:
                return None  # a word that may ask for an edit or name a region
            n = 1
        i += n
    if not names:
        return None
    if ActionName.UNDO in names:
        names = [ActionName.UNDO]  # "that was too much, undo it": the complaint explains the undo
    if len(set(names)) > 1:
        return None  # "stronger ... weaker", "more, again": not one clear action
    name = names[0]
    if name in (ActionName.STRONGER, ActionName.WEAKER):
        s = max(strengths, key=lambda v: abs(v - 1.0)) if strengths else 1.0
        return EditorAction(name, factor=1.0 + 0.5 * s)
    count = max(times) if times else 1
    return EditorAction(name, times=min(count, MAX_TIMES))
