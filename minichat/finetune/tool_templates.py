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
MISSING_FILES = ("minutes.txt", "notes/old.md", "todo.txt", "recipes/cake.md", "report.pdf")
MISSING_FOLDERS = ("videos", "backup", "old_notes")

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
]
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

NOW = {  # what is asked -> its wordings, and the answers that quote the clock
    "time": [
        "Do you know what time it is?", "What's the time right now?", "Got the time?",
        "What time is it where I am?", "Could you check the clock for me?", "How late is it?",
        "Tell me the time.", "What's the current time?", "Can you tell me the time now?",
    ],
    "date": [
        "Could you tell me today's date?", "Which date is it?", "What's the date?",
        "Remind me of today's date.", "What day of the month is it?", "Give me today's date.",
    ],
    "weekday": [
        "What weekday is it?", "Which day is it today?", "Remind me what day it is.",
        "Which day of the week are we on?",
    ],
    "year": ["What year are we in?", "What's the current year?", "Tell me the year, please."],
    "month": [
        "Which month are we in?", "What's the current month?", "Remind me which month it is.",
    ],
    "zone": [
        "What's my time zone?", "Which UTC offset am I on?", "What time zone is this clock set to?",
    ],
    "both": [
        "Give me the date and the time.", "What are today's date and time?",
        "Can you check the date and time for me?",
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
}
ZONES = (-8, -5, -3, 0, 1, 2, 3, 5.5, 8, 9, 10)  # hours from UTC

READS = [
    "What does {} say?", "Could you open {} for me?", "What's written in {}?",
    "Please show me {}.", "I'd like to see the file {}.", "Give me a summary of {}.",
    "What's {} about?", "Check {} and tell me what it contains.", "How does {} start?",
    "Print the contents of {}.", "Have a look at my file {}.",
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
    "Look in {} and tell me what's there.",
]  # fmt: skip
HERE = [
    "What's in this folder?", "Which files are here?", "Show me the current directory.",
    "List everything in the working folder.", "What files do I have here?",
    "Can you see what's in this directory?",
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
