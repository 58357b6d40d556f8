#!/usr/bin/env python3
"""Writes data/sequences/gpl-3-tags.seq: the first non-blank lines of data/text/gpl-3.txt as
sequences of characters, each character tagged by a synthetic rule (no human labelling):

  C  a letter of a capitalised word (its first letter is upper case: "License", "GNU")
  w  a letter of a word that starts in lower case
  d  a digit
  s  a space
  p  anything else (punctuation)

Each step's 4 features say what the character itself is: upper-case letter, lower-case letter,
digit, space (all 0 for punctuation). The tag of a letter inside a word then depends on the
word's first letter, which a recurrent net has to remember: the features alone do not tell C
from w after the first letter.

  python3 scripts/tag_text.py [LINES]    (default 300)
"""
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
lines = [l.strip() for l in (root / "data/text/gpl-3.txt").read_text().splitlines() if l.strip()]
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 300

out = ["# Character tags of data/text/gpl-3.txt (synthetic labelling of real text: scripts/tag_text.py).",
       "# Steps: upper, lower, digit, space (0/1); tags: C capitalised word, w lower-case word, d digit,",
       "# s space, p punctuation."]
for line in lines[:limit]:
    steps, tags, word_capital = [], [], False
    for k, ch in enumerate(line):
        if ch.isalpha():
            if k == 0 or not line[k - 1].isalpha():
                word_capital = ch.isupper()
            tags.append("C" if word_capital else "w")
        elif ch.isdigit():
            tags.append("d")
        elif ch == " ":
            tags.append("s")
        else:
            tags.append("p")
        f = (ch.isalpha() and ch.isupper(), ch.isalpha() and ch.islower(), ch.isdigit(), ch == " ")
        steps.append(",".join(str(int(v)) for v in f))
    out.append(";".join(steps) + " | " + ";".join(tags))
(root / "data/sequences/gpl-3-tags.seq").write_text("\n".join(out) + "\n")
