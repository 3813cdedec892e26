"""The template tables ``tool_data`` draws its training conversations from.

Every wording here is the training side of a split: ``bench/tools.py`` holds the
held-out evaluation queries, and no question below may produce one of them (a test
checks), so the benchmark measures what the adapter learnt, not what it memorised.
The files and folders differ from the benchmark's too, so that copying a path from
the question is learnt, not a list of names.
"""

from __future__ import annotations

# the working folder the file tools run in: path -> text
FILES = {
    "shopping.txt": "Eggs, bread and coffee.\nSoap for the bathroom.\n",
    "meeting.md": "# Monday meeting\nAgreed to move the launch to May.\nNext call on Friday.\n",
    "plan.txt": "Finish the slides by Thursday.\n",
    "budget.csv": "month,spent\nJanuary,420\nFebruary,385\nMarch,460\n",
    "contacts.csv": "name,phone\nAna,555-0101\nBen,555-0144\n",
    "CHANGELOG.md": "# Changelog\n## 1.2.0\nAdded dark mode.\n",
    "config.yaml": "theme: dark\nlanguage: en\nautosave: true\n",
    "packing.md": "# Packing list\n- passport\n- charger\n- sun hat\n",
    "quotes.txt": "Well begun is half done.\nSlow and steady wins the race.\n",
    "birthdays.txt": "Mum: 14 March\nLeo: 2 August\nNina: 30 November\n",
    "journal/monday.md": "Rainy day. Read two chapters of my book.\n",
    "journal/tuesday.md": "Went for a run by the river.\nCooked lentil soup.\n",
    "scripts/backup.sh": "#!/bin/sh\ncp -r ~/photos /mnt/backup\n",
    "scripts/clean.py": "import shutil\nshutil.rmtree('build', ignore_errors=True)\n",
    "poems/rain.txt": "Soft rain on the roof,\nthe garden drinks all night long.\n",
    "poems/winter.txt": "The lake holds its breath\nunder a sheet of white ice.\n",
    "recipes/soup.txt": "Tomato soup: 6 tomatoes, 1 onion, 2 cloves of garlic.\n",
    "recipes/bread.md": "# Simple bread\n500 g flour, 7 g yeast, 320 ml water.\n",
    "recipes/salad.txt": "Cucumber, feta, olives and lemon.\n",
    "lib/parser.py": "def parse(line):\n    return line.strip().split(',')\n",
    "lib/units.py": "KM_PER_MILE = 1.609\n",
    "reports/march.md": "# March\nVisitors up 8%; two new members joined.\n",
    "reports/april.md": "# April\nThe website was down for an hour on the 3rd.\n",
    "letters/thanks.txt": "Dear Priya,\nThanks for hosting us last weekend.\nLove, Tom\n",
    "letters/landlord.txt": "Dear Mr Hale,\nThe boiler is broken again.\n",
    "notes/ideas.md": "Start a book club.\nLearn to bake sourdough.\n",
    "notes/books.txt": "Dune\nThe Hobbit\nPride and Prejudice\n",
    "music/setlist.txt": "1. Blue Moon\n2. Summertime\n3. Fly Me to the Moon\n",
}
EMPTY_FOLDERS = ("drafts", "photos")
# asked about, never made: the tools' errors (names made afresh are missing too)
MISSING_FILES = ("minutes.txt", "notes/old.md", "pay_slip.txt", "recipes/cake.md", "taxes.pdf")
MISSING_FOLDERS = ("videos", "backup", "old_notes")

# files made afresh for a question, named from ``tool_words``: the extensions they end in
# ("" for none; .txt and .md the commonest) and what each kind holds, its first line what
# a file of that kind starts with. {word} {word2} {word3} are words ({Word2} capitalised,
# {WORD} in capitals), {Title} the file's own name as words, {name} someone's name
EXTENSIONS = (
    ".txt", ".txt", ".txt", ".md", ".md", ".md", ".csv", ".py", ".json", ".log", ".yaml",
    ".toml", ".ini", ".html", ".js", ".rs", ".sh", ".cfg", "", "",
)  # fmt: skip
CONTENTS = {
    ".txt": [
        "Remember to {word} the {word2} before {weekday}.\n{Title} is due in {month}.\n",
        "{name} called about the {word}.\nCall back on {weekday} after {hour}:00.\n",
        "{Title}\n- {word}\n- {word2}\n- {adjective} {word3}\n",
        "Things to sort out in {month}:\n{word}, {word2} and the {word3}.\n",
    ],
    ".md": [
        "# {Title}\n\nNotes on the {word} and the {word2}.\n",
        "# {Title}\n- [ ] {word} the {word2}\n- [ ] ask {name} about the {word3}\n",
        "## {Title}\n{name} brings the {word} on {weekday}.\n",
    ],
    ".csv": [
        "{word},{word2},count\n{name},{adjective},{n}\n",
        "date,item,amount\n{year}-{mm}-{dd},{word},{n}\n{year}-{mm}-{dd},{word2},{n2}\n",
    ],
    ".py": [
        "def {word}_{word2}(items):\n    return sorted(items)\n",
        "import json\n\n{WORD}_LIMIT = {n}\n",
        '"""{Title}."""\n\n\ndef {word}_{word3}(x):\n    return x * {n}\n',
    ],
    ".json": [
        '{{"name": "{word}", "count": {n}}}\n',
        '{{\n  "{word}": [{n}, {n2}],\n  "owner": "{name}"\n}}\n',
    ],
    ".log": [
        "{year}-{mm}-{dd} 09:{min} INFO {word} started\n"
        "{year}-{mm}-{dd} 09:{min} WARN {word2} is slow\n",
        "[{year}-{mm}-{dd} {hour}:{min}] backup of {word} done ({n} files)\n",
    ],
    ".yaml": [
        "{word}: {n}\n{word2}: true\nowner: {name}\n",
        "name: {word}\nitems:\n  - {word2}\n  - {word3}\n",
    ],
    ".toml": ['[{word}]\nname = "{name}"\ncount = {n}\n'],
    ".ini": ["[{word}]\n{word2} = {n}\nenabled = yes\n"],
    ".cfg": ["[{word}]\npath = /srv/{word2}\nretries = {n2}\n"],
    ".html": [
        "<!DOCTYPE html>\n<title>{Title}</title>\n<p>All about the {word}.</p>\n",
        "<h1>{Title}</h1>\n<p>Ask {name} about the {word2}.</p>\n",
    ],
    ".js": [
        "function {word}{Word2}(x) {{\n  return x * {n};\n}}\n",
        "const {word}List = [{n}, {n2}];\nconsole.log({word}List.length);\n",
    ],
    ".rs": ['fn main() {{\n    println!("{Title}");\n}}\n'],
    ".sh": ['#!/bin/sh\necho "{Title}"\n', "#!/bin/bash\nset -e\nmkdir -p {word}/{word2}\n"],
    "": [
        "{Title}\n\nSee the {word} folder for the details.\n",
        "{Title}\n{name} looks after the {word} and the {word2}.\n",
    ],
    "LICENSE": ["MIT License\n\nCopyright (c) {year} {name}\n"],
}

CALCULATIONS = [  # (question, the expression the model writes, the answer; {r} is the result)
    ("What's {x} multiplied by {y}?", "{x} * {y}", "{x} \N{MULTIPLICATION SIGN} {y} is {r}."),
    ("Multiply {x} by {y} for me.", "{x} * {y}", "{x} times {y} comes to {r}."),
    ("Can you add up {x}, {y} and {z}?", "{x} + {y} + {z}", "{x} + {y} + {z} = {r}."),
    ("Take {y} away from {x}. What's left?", "{x} - {y}", "{x} minus {y} leaves {r}."),
    ("Divide {x} by {q}.", "{x} / {q}", "{x} ÷ {q} = {r}."),
    ("What is {x} plus {y} minus {z}?", "{x} + {y} - {z}", "That comes to {r}."),
    (
        "Work out {x} * {q} + {y}, please.",
        "{x} * {q} + {y}",
        "{x} \N{MULTIPLICATION SIGN} {q} + {y} = {r}.",
    ),
    ("Add {x} and {y}, then multiply the total by {q}.", "({x} + {y}) * {q}", "That gives {r}."),
    ("How many times does {q} go into {x}?", "{x} / {q}", "{q} goes into {x} {r} times."),
    ("What's the remainder when {x} is divided by {q}?", "{x} % {q}", "The remainder is {r}."),
    ("How much is {pct} percent of {x}?", "{pct} * {x} / 100", "{pct}% of {x} is {r}."),
    ("What percentage of {y} is {part}?", "{part} / {y} * 100", "{part} is {r}% of {y}."),
    ("Increase {x} by {pct}%.", "{x} * (1 + {pct} / 100)", "{x} plus {pct}% is {r}."),
    ("Raise {base} to the power {exp}.", "{base} ** {exp}", "{base} to the power {exp} is {r}."),
    ("What's {base} cubed?", "{base} ** 3", "{base} cubed is {r}."),
    ("Find the square root of {sq}.", "sqrt({sq})", "The square root of {sq} is {r}."),
    ("Which number times itself makes {sq}?", "sqrt({sq})", "{r} times itself makes {sq}."),
    (
        "I'm buying {q} {item} at {price} dollars each. How much is that altogether?",
        "{q} * {price}",
        "{q} {item} at {price} dollars cost {r} dollars.",
    ),
    (
        "My basket has things costing {price}, {price2} and {price3}. What's the total?",
        "{price} + {price2} + {price3}",
        "The total is {r}.",
    ),
    (
        "Dinner came to {bill} and there are {q} of us. How much does each person owe?",
        "{bill} / {q}",
        "Each of you owes {r}.",
    ),
    (
        "We are {q} friends sharing a {bill} dollar taxi fare equally. What's each share?",
        "{bill} / {q}",
        "Each share is {r} dollars.",
    ),
    (
        "My garden measures {m} metres by {w} metres. How many square metres is it?",
        "{m} * {w}",
        "The garden is {r} square metres.",
    ),
    ("How many square feet is a {m} ft by {w} ft floor?", "{m} * {w}", "It is {r} square feet."),
    ("What's the area of a circle with radius {m} cm?", "pi * {m} ** 2", "It is {r} cm²."),
    (
        "My test scores were {n1}, {n2}, {n3} and {n4}. What's my average?",
        "({n1} + {n2} + {n3} + {n4}) / 4",
        "Your average is {r}.",
    ),
    ("Find the mean of {n1}, {n2} and {n3}.", "({n1} + {n2} + {n3}) / 3", "The mean is {r}."),
    (
        "A coat costs {bill} dollars and it's {pct}% off. What's the sale price?",
        "{bill} * (100 - {pct}) / 100",
        "With {pct}% off it costs {r} dollars.",
    ),
    (
        "How much do I save with {pct}% off a {bill} dollar purchase?",
        "{bill} * {pct} / 100",
        "You save {r} dollars.",
    ),
    ("The bill is {bill}. How much is a {tip}% tip?", "{bill} * {tip} / 100", "The tip is {r}."),
    (
        "What do I pay in all for a {bill} meal plus a {tip}% tip?",
        "{bill} * (1 + {tip} / 100)",
        "With the tip you pay {r}.",
    ),
    ("How many miles is {km} km?", "{km} * 0.621371", "{km} km is {r} miles."),
    ("Convert {f} degrees Fahrenheit to Celsius.", "({f} - 32) * 5 / 9", "{f} °F is {r} °C."),
    ("How many pounds are {kg} kilograms?", "{kg} * 2.20462", "{kg} kg is {r} pounds."),
    ("How many minutes are there in {h} hours?", "{h} * 60", "{h} hours is {r} minutes."),
    ("How many centimetres is {inch} inches?", "{inch} * 2.54", "{inch} inches is {r} cm."),
    ("How many seconds are in {mins} minutes?", "{mins} * 60", "That is {r} seconds."),
    (
        "I drove {km} km in {hrs} hours. What was my average speed?",
        "{km} / {hrs}",
        "Your average speed was {r} km per hour.",
    ),
    ("I earn {bill} a day. How much is that over {q} days?", "{bill} * {q}", "That is {r}."),
    # numbers of any size from here on: {a} {b} {c} {d} {n}, and {hi} above {lo}
    ("Subtract {lo} from {hi}, please.", "{hi} - {lo}", "{hi} - {lo} = {r}."),
    ("How much is left if I take {lo} from {hi}?", "{hi} - {lo}", "{r} is left."),
    ("Take {lo} away from {hi}.", "{hi} - {lo}", "{hi} minus {lo} is {r}."),
    ("What's {hi} minus {lo}?", "{hi} - {lo}", "{hi} minus {lo} is {r}."),
    ("Deduct {lo} from {hi}.", "{hi} - {lo}", "{hi} less {lo} is {r}."),
    ("Find the difference between {hi} and {lo}.", "{hi} - {lo}", "The difference is {r}."),
    ("By how much is {hi} bigger than {lo}?", "{hi} - {lo}", "{hi} is {r} more than {lo}."),
    ("If you remove {lo} from {hi}, what remains?", "{hi} - {lo}", "{r} remains."),
    ("{hi} take away {lo} makes what?", "{hi} - {lo}", "It makes {r}."),
    ("How much smaller is {lo} than {hi}?", "{hi} - {lo}", "{lo} is {r} less than {hi}."),
    (
        "I had {hi} dollars and spent {lo}. How much do I have now?",
        "{hi} - {lo}",
        "You have {r} dollars left.",
    ),
    ("Find {pc}% of {n}.", "{pc} * {n} / 100", "{pc}% of {n} is {r}."),
    ("Work out {pc} percent of {n}.", "{pc} * {n} / 100", "{pc} percent of {n} is {r}."),
    ("Calculate {pc}% of {n}, please.", "{n} * {pc} / 100", "{pc}% of {n} is {r}."),
    ("What is {pc} per cent of {n}?", "{pc} * {n} / 100", "It is {r}."),
    ("{pc}% of {n} is how much?", "{n} * {pc} / 100", "It is {r}."),
    ("Tell me what {pc} percent of {n} comes to.", "{pc} * {n} / 100", "It comes to {r}."),
    ("How much is {pc}% of {n} dollars?", "{n} * {pc} / 100", "It is {r} dollars."),
    ("What's {pc} percent of {n}?", "{pc} * {n} / 100", "{pc} percent of {n} is {r}."),
    ("Give me {pc}% of {n}.", "{pc} * {n} / 100", "{pc}% of {n} is {r}."),
    (
        "Of {n} people asked, {pc}% said yes. How many is that?",
        "{n} * {pc} / 100",
        "That is {r} people.",
    ),
    ("Share {n} dollars equally among {k} people.", "{n} / {k}", "Each gets {r} dollars."),
    ("Divide {n} between {k} friends. How much does each get?", "{n} / {k}", "Each gets {r}."),
    (
        "{k} of us are splitting a bill of {n}. What's each person's part?",
        "{n} / {k}",
        "Each part is {r}.",
    ),
    (
        "If {k} people share {n} sweets equally, how many does each get?",
        "{n} / {k}",
        "Each gets {r}.",
    ),
    ("Split {n} into {k} equal parts.", "{n} / {k}", "Each part is {r}."),
    (
        "We owe {n} in total and there are {k} of us. What does each pay?",
        "{n} / {k}",
        "Each of you pays {r}.",
    ),
    ("How much is {n} shared out among {k}?", "{n} / {k}", "{n} \N{DIVISION SIGN} {k} = {r}."),
    (
        "Cut a rope of {n} metres into {k} equal pieces. How long is each?",
        "{n} / {k}",
        "Each piece is {r} metres.",
    ),
    (
        "The {k} of us won {n} dollars. How much is each person's share?",
        "{n} / {k}",
        "Each share is {r} dollars.",
    ),
    ("What's {a} + {b} + {c}?", "{a} + {b} + {c}", "{a} + {b} + {c} = {r}."),
    ("Sum {a}, {b} and {c}.", "{a} + {b} + {c}", "The sum is {r}."),
    ("Add together {a}, {b}, {c} and {d}.", "{a} + {b} + {c} + {d}", "Together they make {r}."),
    ("What do {a}, {b} and {c} add up to?", "{a} + {b} + {c}", "They add up to {r}."),
    ("Total up {a}, {b}, {c} and {d} for me.", "{a} + {b} + {c} + {d}", "The total is {r}."),
    ("What is the sum of {a}, {b} and {c}?", "{a} + {b} + {c}", "The sum is {r}."),
    ("{a} plus {b} plus {c} equals?", "{a} + {b} + {c}", "It equals {r}."),
    ("Add {a} to {b}, then add {c}.", "{a} + {b} + {c}", "That makes {r}."),
    ("Please add up {a}, {b}, {c} and {d}.", "{a} + {b} + {c} + {d}", "They add up to {r}."),
    ("What's the total of {a}, {b} and {c}?", "{a} + {b} + {c}", "The total is {r}."),
    ("Sum these up: {a}, {b}, {c}, {d}.", "{a} + {b} + {c} + {d}", "The sum is {r}."),
    (
        "I paid {a}, {b} and {c} dollars. How much is that in total?",
        "{a} + {b} + {c}",
        "That is {r} dollars in total.",
    ),
    ("How much is {a} times {b}?", "{a} * {b}", "{a} \N{MULTIPLICATION SIGN} {b} = {r}."),
    ("Multiply {a} and {b}.", "{a} * {b}", "The product is {r}."),
    ("{a} divided by {b} is what?", "{a} / {b}", "{a} \N{DIVISION SIGN} {b} = {r}."),
    ("What's {a} over {b}?", "{a} / {b}", "{a} over {b} is {r}."),
    ("What's {a} plus {b}?", "{a} + {b}", "{a} plus {b} is {r}."),
    ("What's {s} squared?", "{s} ** 2", "{s} squared is {r}."),
    ("Square {s} for me.", "{s} ** 2", "{s} squared is {r}."),
    ("What's the square of {s}?", "{s} ** 2", "The square of {s} is {r}."),
    ("What's the cube of {t}?", "{t} ** 3", "The cube of {t} is {r}."),
    ("Cube {t}, please.", "{t} ** 3", "{t} cubed is {r}."),
    ("How much is {t} cubed?", "{t} ** 3", "{t} cubed is {r}."),
    ("What's the square root of {root}?", "sqrt({root})", "The square root of {root} is {r}."),
    ("Square root of {root}, please.", "sqrt({root})", "It is {r}."),
    ("Take the square root of {root}.", "sqrt({root})", "The square root is {r}."),
    ("What's {p} to the power of {pk}?", "{p} ** {pk}", "{p} to the power of {pk} is {r}."),
    ("How much is {p} raised to the power {pk}?", "{p} ** {pk}", "It is {r}."),
    ("Compute {p}^{pk}.", "{p} ** {pk}", "{p}^{pk} = {r}."),
    ("What does {p} to the power {pk} come to?", "{p} ** {pk}", "It comes to {r}."),
]
WRITTEN = 0.15  # of calculations write their arithmetic out, to be copied as it is
EXPRESSIONS = [
    "({a} + {b}) * {c}", "{a} * ({b} - {c})", "({a} - {b}) / {c}", "({a} + {b}) * ({c} - {d})",
    "{a} / ({b} + {c})", "({a} + {b} + {c}) / {d}", "{a} - {b} * {c}", "{a} * {b} - {c}",
    "{a} + {b} * {c}", "({a} * {b}) + {c}", "{a} * {b} / {c}", "({a} - {b}) * {c}",
    "{a} + {b} - {c}", "({a} + {b}) / 2",
]  # fmt: skip
ASKED = [  # how arithmetic written out is asked for
    "Work out {e}.", "What's {e}?", "Evaluate {e}.", "Can you compute {e}?", "Solve {e} for me.",
    "Find the value of {e}.", "{e} = ?", "Quick one: {e}", "How much is {e}?",
    "Calculate {e} for me.", "What does {e} come to?", "Give me the result of {e}.",
]  # fmt: skip
ITEMS = ["notebooks", "mugs", "cinema tickets", "bags of rice", "plants", "pens", "towels"]
INTEGERS = {  # what fills a calculation: a whole number in this span (both ends included)
    "x": (104, 8900), "y": (14, 480), "z": (3, 95), "q": (3, 12), "base": (2, 15),
    "exp": (2, 8), "m": (3, 48), "w": (3, 48), "n1": (40, 100), "n2": (40, 100),
    "n3": (40, 100), "n4": (40, 100), "km": (3, 250), "f": (20, 110), "kg": (2, 120),
    "h": (2, 30), "hrs": (2, 6), "inch": (2, 80), "mins": (2, 300),
}  # fmt: skip
CHOICES: dict[str, list[int] | list[str]] = {  # ... or one of these
    "pct": [3, 7, 8, 12, 15, 30, 35, 40, 45, 60, 75],
    "tip": [10, 12, 15, 18, 20, 22],
    "item": ITEMS,
}
CENTS = ["25", "49", "50", "75", "95", "99"]  # prices end in these
DECIMALS = ["5", "25", "75", "1", "2", "4", "8", "05", "35", "6", "45"]  # other decimals

NOW = {  # what is asked -> its wordings, and the answers that quote the clock
    "time": [
        "Do you know what time it is?", "What's the time right now?", "Got the time?",
        "What time is it where I am?", "Could you check the clock for me?", "How late is it?",
        "Tell me the time.", "What's the current time?", "Can you tell me the time now?",
        "How late is it now?", "What does the clock say?", "What time do you have?",
        "Can you check what time it is?", "Have you got the current time?", "What hour is it?",
        "Time check, please.", "What's the time in my time zone?",
    ],
    "date": [
        "Could you tell me today's date?", "Which date is it?", "What's the date?",
        "Remind me of today's date.", "What day of the month is it?", "Give me today's date.",
        "What date is it today?", "Which day of the month are we on?", "Tell me the date.",
        "What's the full date?", "Today's date, please.",
    ],
    "weekday": [
        "What weekday is it?", "Which day is it today?", "Remind me what day it is.",
        "Which day of the week are we on?", "What day is it?", "Is it Monday today?",
        "Tell me the day of the week.", "Which weekday are we on today?",
    ],
    "year": [
        "What year are we in?", "What's the current year?", "Tell me the year, please.",
        "What year is it?", "Remind me what year it is.",
    ],
    "month": [
        "Which month are we in?", "What's the current month?", "Remind me which month it is.",
        "What month are we in?", "Which month is it now?", "Tell me the month.",
    ],
    "zone": [
        "What's my time zone?", "Which UTC offset am I on?", "What time zone is this clock set to?",
        "Tell me my time zone.", "What's the UTC offset here?", "Which zone is my clock in?",
        "Am I ahead of UTC or behind it?",
    ],
    "both": [
        "Give me the date and the time.", "What are today's date and time?",
        "Can you check the date and time for me?", "What's the date and time right now?",
        "Date and time, please.", "Tell me today's date and the time.",
    ],
    "part": [
        "Is it morning or afternoon where I am?", "Is it still morning?", "Is it night already?",
        "Is it evening yet?", "Should I say good morning or good evening now?",
        "Is it afternoon already?", "What part of the day is it now?",
        "Is it daytime or night here?", "Morning, afternoon or evening: which is it now?",
    ],
    "weekend": [
        "Is it the weekend yet?", "Is today a weekend day?", "Is it a weekday or the weekend?",
        "Is today a working day?", "Are we at the weekend?", "Is it Saturday yet?",
    ],
}  # fmt: skip
NOW_ANSWERS = {
    "time": ["It's {clock} ({zone}).", "The time is {clock}.", "Right now it's {clock}, {zone}."],
    "date": ["Today is {weekday} {day} {month} {year}.", "It's {day} {month} {year}, a {weekday}."],
    "weekday": ["It's {weekday}.", "Today is {weekday}, {day} {month}."],
    "year": ["It's {year}.", "We are in {year}."],
    "month": ["It's {month}.", "We are in {month} {year}."],
    "zone": ["Your clock is set to {zone}.", "You are on {zone}."],
    "both": ["It's {weekday} {day} {month} {year}, {clock} ({zone})."],
    "part": [
        "It's {clock}, so it's {part}.",
        "It's {part}: the clock says {clock} ({zone}).",
        "The clock says {clock} on {weekday}: it's {part}.",
    ],
    "weekend": ["Today is {weekday}, {week}.", "It's {weekday} {day} {month}, {week}."],
}
PARTS = ((21, "night"), (17, "evening"), (12, "afternoon"), (5, "morning"), (0, "night"))
WEEK = {"Saturday": "the weekend", "Sunday": "the weekend"}  # any other day: "a weekday"
ZONES = (-8, -5, -3, 0, 1, 2, 3, 5.5, 8, 9, 10)  # hours from UTC

READS = [
    "What does {} say?", "Could you open {} for me?", "What's written in {}?",
    "Please show me {}.", "I'd like to see the file {}.", "Give me a summary of {}.",
    "What's {} about?", "Check {} and tell me what it contains.", "How does {} start?",
    "Print the contents of {}.", "Have a look at my file {}.", "Open the file {}.",
    "What does the file {} contain?", "Show the file {}.", "Display the text of {}.",
    "cat {}", "Can you open the file {} please?", "I need to see what {} says.",
    "What's inside the file {}?", "Read out the file {}.", "Tell me what {} contains.",
    "Look at {} and sum it up.", "What's the first line of {}?", "Please read the file called {}.",
    "Peek into {} for me.", "Can you check the file {}?", "What's in the file {}?",
    "Go through {} and tell me what's in it.", "What did I write in {}?", "Let me see {}.",
    "Open up {} and read it to me.", "Fetch the contents of the file {}.",
]  # fmt: skip
READ_ANSWERS = [
    '{path} has {lines} and begins: "{first}"',
    'It starts with "{first}" ({lines} in all).',
    "Here is {path}:\n\n{text}",
    'The first line of {path} is "{first}"; the file has {lines}.',
]
LISTS = [
    "What's in the {} folder?", "Show me the files under {}.", "Which files does {}/ contain?",
    "Can you list {} for me?", "What's inside the {} directory?", "Give me a listing of {}.",
    "Look in {} and tell me what's there.", "What's under {}/?", "What's in {}/?",
    "Show the contents of the {} directory.", "ls {}", "ls {}/", "Run ls on {}.",
    "Which files are in {}?", "Which files live in the {} directory?", "List the {} folder.",
    "List the {} directory, please.", "What does the {} folder contain?",
    "Open the folder {} and list what's in it.", "What's stored in the directory {}?",
    "Show me the folder {}.", "Which files and folders are inside {}?",
    "Can you list everything under {}/?", "What's in my {} folder?",
    "Tell me what the directory {} holds.", "Browse the {} folder for me.",
    "What have I got in the {} directory?", "Give me the file list of {}/.",
]  # fmt: skip
HERE = [
    "What's in this folder?", "Which files are here?", "Show me the current directory.",
    "List everything in the working folder.", "What files do I have here?",
    "Can you see what's in this directory?", "What's here?", "List this directory.", "ls",
    "ls .", "What's in the current folder?", "Show me everything in this folder.",
    "Which files are in this directory?", "What do I have in the working directory?",
    "List what's in the current directory, please.", "Give me a listing of this folder.",
    "What's in here?", "Can you list the current folder?", "Which files and folders are here?",
    "Show the files in this directory.", "What's in the folder we're working in?",
]  # fmt: skip
LIST_ANSWERS = ["{where} holds {items}.", "{where} has {count}: {items}."]

CANNOT = {  # the answer when the tool a question needs is not offered
    "calculator": "I don't have a calculator here, so I can't promise an exact answer. "
    "The arithmetic to work out is {expression}.",
    "now": "I can't check a clock in this chat, so I don't know the current date or time. "
    "Your device's clock will show it.",
    "read_file": "I can't open files in this chat, so I can't see what is in {path}.",
    "list_dir": "I can't look inside folders in this chat, so I can't tell what is in {where}.",
}

CHAT = [  # questions that need no tool, answered by the model itself
    "Hey there!", "Good morning!", "Hi! What can you do?", "Hello, nice to meet you.",
    "Thank you so much!", "Thanks, that was useful.", "Cheers for the help.", "Goodbye!",
    "Why is the sky blue?", "How do bees make honey?", "What causes rain?",
    "Who painted the Mona Lisa?", "How far away is the Moon?", "What is DNA?",
    "Why do leaves change colour in autumn?", "How does a rainbow form?",
    "What is the tallest mountain on Earth?", "Who was Marie Curie?", "What is gravity?",
    "How do vaccines work?", "What language is spoken in Brazil?", "What do pandas eat?",
    "Write a short story about a lost umbrella.", "Write a limerick about a sleepy dog.",
    "Draft a polite email asking for a day off.", "Write a birthday message for my sister.",
    "Give me a motivational quote.", "Suggest a title for a mystery novel.",
    "How can I focus better when I study?", "How do I make new friends in a new city?",
    "Any tips for a job interview?", "How can I drink more water during the day?",
    "What should I pack for a weekend hike?", "How do I start learning to draw?",
    "What is a prime number?", "Why do we have leap years?", "What does UTC stand for?",
    "How does a sundial work?", "What is the Pythagorean theorem?", "What is pi?",
    "Explain what a percentage is.", "What's the difference between mean and median?",
    "Why can't you divide by zero?", "What is a fraction?", "How do time zones work?",
    "What is daylight saving time?", "What is an even number?", "What is algebra used for?",
    "Why does a minute have sixty seconds?", "Who invented the calendar we use today?",
    "What is a CSV file?", "What does a README file usually contain?", "What is a folder?",
    "What is the difference between a file and a folder?", "What is Markdown?",
    "What's the opposite of 'generous'?", "What is a synonym for 'happy'?",
    "Recommend a good book for a long flight.", "What is a haiku?", "Who was Ada Lovelace?",
    "Good evening!", "Hey, how's it going?", "What's up?", "Great, thanks!", "See you later!",
    "Have a nice day!", "Thank you, that helps a lot.", "Nice to talk to you again.",
    "What is the speed of light?", "Why do cats purr?", "How do airplanes stay in the air?",
    "What is the water cycle?", "Who discovered penicillin?", "Why is the ocean salty?",
    "How many continents are there?", "What is the biggest animal on Earth?", "Why do we dream?",
    "Who wrote Pride and Prejudice?", "How do magnets work?", "What is climate change?",
    "What are the primary colours?", "Write a thank-you note to a teacher.", "Give me a riddle.",
    "Write a two-line rhyme about Monday mornings.", "Draft a short toast for a wedding.",
    "Write a product description for a wooden chair.", "Make up a name for a bakery.",
    "How can I be more productive in the morning?", "How do I deal with stress at work?",
    "What's a healthy breakfast idea?", "How can I keep my houseplants alive?",
    "How do I write a good cover letter?", "What is a square number?", "What is a decimal?",
    "Why are there 24 hours in a day?", "What is an hourglass?", "What does 'a.m.' mean?",
    "What is the order of operations in maths?", "What does 'average' mean?", "What is geometry?",
    "What is a negative number?", "What makes a number odd?", "What is a file extension?",
    "What is a text file?", "How should I organise my files into folders?", "What is JSON?",
    "What does .md at the end of a file name mean?", "Why do months have different lengths?",
    "What does the ls command do?", "How do I rename a file?", "What is a log file?",
    "What is a YAML file used for?", "What's the difference between .txt and .md files?",
    "How do I make a new folder?", "What is a shell script?",
    "Why do some files have no extension?",
    "What is a square root?", "How do percentages work?", "What does 'squared' mean?",
    "What is a time zone?", "Why is there a weekend?", "Who decided a week has seven days?",
    "What's a good morning routine?", "How do I stop staying up late?",
    "What's the best time of day to exercise?", "Why do we divide the day into hours?",
    "How do I split chores fairly with flatmates?", "Write a short note to remind me to rest.",
    "Good afternoon!", "Morning! How are you today?", "Hi again!", "Thanks a million!",
    "What is the boiling point of water?", "Who built the pyramids?", "What is a volcano?",
    "How do plants drink water?", "Why do we have seasons?", "Who was Isaac Newton?",
    "Describe a quiet street at dawn.", "Give me a fun name for a goldfish.",
    "How can I remember people's names?", "Suggest a weekend hobby for a beginner.",
    "What should I cook for a rainy evening?", "How do I keep a diary going?",
]  # fmt: skip
CHAT_TEMPLATES: list[tuple[str, list[str | tuple[str, str]]]] = [  # (template, its fills)
    ("Write a short poem about {}.", ["the moon", "coffee", "a city at night", "friendship",
     "the ocean", "a rainy Sunday", "the first snow", "an old bicycle"]),
    ("Explain {} in simple terms.", ["inflation", "photosynthesis", "the internet", "evolution",
     "black holes", "democracy", "recycling", "electricity",
     "compound interest", "machine learning", "the stock market", "a solar eclipse"]),
    ("Give me some advice on {}.", ["saving money", "public speaking", "learning a language",
     "sleeping well", "running my first 5 km",
     "cooking for one", "staying motivated", "travelling on a budget"]),
    ("How do you say '{}' in {}?", [("good night", "French"), ("where is the station", "German"),
     ("I love you", "Italian"), ("good morning", "Japanese"), ("how much is it", "Spanish"),
     ("see you tomorrow", "Portuguese"),
     ("happy birthday", "Dutch"), ("excuse me", "French"), ("good luck", "German")]),
    ("What is the difference between {} and {}?", [("weather", "climate"), ("a virus", "bacteria"),
     ("a lake", "a sea"), ("speed", "velocity"), ("a poem", "a song"),
     ("a comet", "an asteroid"), ("empathy", "sympathy"), ("a crocodile", "an alligator")]),
    ("Tell me something interesting about {}.", ["dolphins", "volcanoes", "ancient Rome",
     "the human heart", "Mars",
     "penguins", "the Sahara", "the Amazon rainforest"]),
]  # fmt: skip
