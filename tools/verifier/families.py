"""Prompt families for the pair verifier's generated examples.

A family is a set of paraphrase templates over named slots. Two templates of one
family filled with the same values ask the same thing (a positive); changing one
slot's value, or flipping a qualifier, asks something else (a hard negative).
Slots marked symmetric may be swapped without changing the meaning ("the
difference between A and B"); swapping the slots of an ordered family changes it
("Did A conquer B?").

Families are split between training and validation by name, and slot values by
value, so the validation figures measure prompts and words the model never saw.
"""

import zlib

COUNTRIES = """Australia Canada France Germany Japan Brazil India Mexico Italy Spain Egypt Kenya
Nigeria Argentina Chile Peru Norway Sweden Finland Poland Greece Turkey Iran Iraq Vietnam Thailand
Indonesia Malaysia Portugal Ireland Scotland Switzerland Austria Belgium Netherlands Denmark Russia
China Pakistan Bangladesh Morocco Ghana Ethiopia Colombia Venezuela Cuba Iceland Hungary Romania
Ukraine Israel Jordan Nepal Mongolia Singapore Philippines Korea Croatia Serbia Bolivia""".split()

CITIES = """Paris London Tokyo Berlin Madrid Rome Chicago Boston Seattle Toronto Sydney Melbourne
Dublin Lisbon Prague Vienna Budapest Warsaw Oslo Stockholm Helsinki Copenhagen Amsterdam Brussels
Athens Istanbul Cairo Nairobi Mumbai Delhi Bangalore Shanghai Beijing Seoul Bangkok Singapore Dubai
Denver Austin Miami Atlanta Houston Dallas Vancouver Montreal Lima Bogota Santiago Milan Munich
Barcelona Edinburgh Manchester Kyoto Osaka Hanoi Manila Jakarta""".split()

LANGUAGES = """French Spanish German Italian Portuguese Japanese Chinese Korean Russian Arabic Hindi
Dutch Swedish Polish Turkish Greek Hebrew Vietnamese Thai Indonesian Swahili Norwegian Danish
Finnish Czech Hungarian Romanian Ukrainian Persian Bengali""".split()

PROG_LANGS = """Python JavaScript TypeScript Java C# C++ Go Rust Ruby PHP Swift Kotlin Scala Haskell
Perl R Julia Elixir Dart Lua Bash SQL MATLAB Clojure OCaml Zig Fortran Erlang F#""".split()

ANIMALS = """dogs cats horses rabbits hamsters parrots goldfish turtles snakes ferrets guinea pigs
cows pigs goats sheep chickens ducks elephants lions tigers wolves bears dolphins whales sharks
penguins owls eagles frogs bees""".split()
ANIMALS = [a for a in ANIMALS if a not in ("guinea",)]

DISHES = """chocolate chip cookies banana bread lasagna pancakes waffles sourdough bread apple pie
brownies cheesecake guacamole hummus pad thai fried rice chicken curry beef stew tomato soup
french toast carrot cake lemon bars meatballs risotto paella tacos falafel granola pizza dough
mac and cheese potato salad""".split("  ")
DISHES = [
    "chocolate chip cookies", "banana bread", "lasagna", "pancakes", "waffles", "sourdough bread",
    "apple pie", "brownies", "cheesecake", "guacamole", "hummus", "pad thai", "fried rice",
    "chicken curry", "beef stew", "tomato soup", "french toast", "carrot cake", "lemon bars",
    "meatballs", "risotto", "paella", "tacos", "falafel", "granola", "pizza dough",
    "mac and cheese", "potato salad", "chili", "pumpkin pie", "scones", "muffins", "tiramisu",
]

CONCEPTS = [
    "quantum entanglement", "machine learning", "blockchain", "inflation", "photosynthesis",
    "the theory of relativity", "compound interest", "recursion", "black holes", "natural selection",
    "supply and demand", "the stock market", "neural networks", "climate change", "DNA replication",
    "the French Revolution", "object-oriented programming", "public key cryptography", "entropy",
    "the Pythagorean theorem", "plate tectonics", "the immune system", "cloud computing",
    "garbage collection", "a hash table", "dynamic programming", "the greenhouse effect",
    "string theory", "cognitive dissonance", "opportunity cost", "gene editing", "the big bang",
    "a mortgage", "an index fund", "the placebo effect", "herd immunity", "dark matter",
    "a REST API", "containerization", "the Monty Hall problem", "impostor syndrome",
]

CODE_TASKS = [
    ("reverse a string", "reverse a list"), ("sort a list of numbers", "shuffle a list of numbers"),
    ("read a CSV file", "write a CSV file"), ("check if a number is prime", "check if a number is even"),
    ("remove duplicates from a list", "count duplicates in a list"),
    ("convert a string to uppercase", "convert a string to lowercase"),
    ("parse a JSON string", "serialize an object to JSON"), ("find the maximum in an array", "find the minimum in an array"),
    ("merge two dictionaries", "compare two dictionaries"), ("connect to a PostgreSQL database", "connect to a MySQL database"),
    ("send an HTTP GET request", "send an HTTP POST request"), ("read a file line by line", "append a line to a file"),
    ("generate a random number", "generate a random password"), ("compute the factorial of a number", "compute the Fibonacci sequence"),
    ("split a string by commas", "join a list of strings with commas"), ("get the current date", "get the current time zone"),
    ("flatten a nested list", "deep copy a nested list"), ("validate an email address", "validate a phone number"),
    ("count the words in a string", "count the vowels in a string"), ("create a new thread", "kill a running thread"),
    ("encrypt a file", "decrypt a file"), ("compress a folder into a zip file", "extract a zip file"),
    ("convert Celsius to Fahrenheit", "convert Fahrenheit to Celsius"), ("round a float to two decimals", "truncate a float to an integer"),
]

TOPICS = [
    "climate change", "social media", "artificial intelligence", "remote work", "renewable energy",
    "space exploration", "online privacy", "the gig economy", "electric cars", "video games",
    "homeschooling", "fast fashion", "universal basic income", "nuclear power", "veganism",
    "cryptocurrency", "urban gardening", "mental health at work", "standardized testing", "tourism",
]

PRODUCTS = [
    "Netflix", "Spotify", "Amazon Prime", "my gym membership", "Adobe Creative Cloud", "Microsoft 365",
    "Dropbox", "Disney Plus", "YouTube Premium", "my Audible membership", "Hulu", "LinkedIn Premium",
    "iCloud storage", "ChatGPT Plus", "Duolingo Plus", "Apple Music", "HBO Max", "Slack",
]

APPS = [
    "Zoom", "Slack", "Chrome", "Firefox", "Docker", "Visual Studio Code", "Node.js", "Python",
    "Steam", "Spotify", "Skype", "Microsoft Teams", "Git", "Homebrew", "PostgreSQL", "Redis",
    "Java", "npm", "Android Studio", "Xcode", "VLC", "Discord", "WhatsApp", "Telegram",
]

OSES = ["Windows 11", "Windows 10", "macOS", "Ubuntu", "Linux Mint", "Fedora", "Debian", "an iPhone", "an Android phone", "a Chromebook"]

PEOPLE = [
    "Albert Einstein", "Marie Curie", "Isaac Newton", "Nikola Tesla", "Ada Lovelace", "Alan Turing",
    "Charles Darwin", "Leonardo da Vinci", "Napoleon", "Cleopatra", "Abraham Lincoln", "Winston Churchill",
    "Mahatma Gandhi", "Nelson Mandela", "Steve Jobs", "Bill Gates", "Elon Musk", "Mozart", "Beethoven",
    "Shakespeare", "Picasso", "Galileo", "Aristotle", "Plato", "Queen Victoria", "Julius Caesar",
    "Frida Kahlo", "Martin Luther King Jr.", "George Washington", "Confucius",
]

EMPIRES = [
    "the Romans", "the Greeks", "the Persians", "the Mongols", "the Ottomans", "the British", "the French",
    "the Spanish", "the Aztecs", "the Incas", "the Vikings", "the Egyptians", "the Carthaginians",
    "the Huns", "the Byzantines", "the Macedonians", "the Japanese", "the Chinese", "the Prussians",
    "the Austrians", "the Russians", "the Dutch", "the Portuguese", "the Normans", "the Saxons",
]

SPORTS_TEAMS = [
    "the Lakers", "the Celtics", "the Yankees", "the Red Sox", "Real Madrid", "Barcelona",
    "Manchester United", "Liverpool", "the Patriots", "the Packers", "Bayern Munich", "Juventus",
    "the Warriors", "the Bulls", "Chelsea", "Arsenal", "the Cowboys", "the Giants", "PSG", "Ajax",
]

UNITS = [
    ("miles", "kilometers"), ("pounds", "kilograms"), ("inches", "centimeters"), ("feet", "meters"),
    ("ounces", "grams"), ("gallons", "liters"), ("cups", "milliliters"), ("yards", "meters"),
    ("Celsius", "Fahrenheit"), ("hours", "minutes"), ("days", "weeks"), ("acres", "hectares"),
    ("tablespoons", "teaspoons"), ("megabytes", "gigabytes"), ("knots", "miles per hour"),
]

DRUGS = [
    "ibuprofen", "acetaminophen", "aspirin", "metformin", "amoxicillin", "melatonin", "caffeine",
    "vitamin D", "omega-3 supplements", "creatine", "magnesium", "antihistamines", "statins",
    "green tea", "intermittent fasting", "cold showers", "yoga", "running", "meditation", "coffee",
]

PAIR_QUALIFIERS = [
    ("benefits", "side effects"), ("advantages", "disadvantages"), ("pros", "cons"),
    ("risks", "benefits"), ("causes", "symptoms"), ("symptoms", "treatments"),
]

STYLE_QUALIFIERS = [
    ("formal", "casual"), ("short", "long"), ("funny", "serious"), ("polite", "angry"),
    ("simple", "detailed"), ("positive", "negative"), ("persuasive", "neutral"),
]

AUDIENCES = [
    ("a five-year-old", "a PhD student"), ("a beginner", "an expert"), ("a child", "a physicist"),
    ("my grandmother", "a software engineer"), ("high school students", "university professors"),
]

OPPOSITE_VERBS = [
    ("install", "uninstall"), ("enable", "disable"), ("start", "stop"), ("upgrade", "downgrade"),
    ("update", "roll back"), ("turn on", "turn off"), ("open", "close"), ("show", "hide"),
    ("mount", "unmount"), ("lock", "unlock"),
]

SUB_VERBS = [
    ("cancel", "renew"), ("cancel", "pause"), ("upgrade", "downgrade"), ("start", "cancel"),
    ("share", "transfer"), ("pay for", "get a refund for"),
]

EGG_STYLES = [("hard", "soft"), ("runny", "firm"), ("jammy", "fully cooked")]

GOALS = [("lose weight", "gain weight"), ("build muscle", "lose muscle"), ("fall asleep", "wake up"),
         ("save money", "invest money"), ("learn to swim", "learn to dive"), ("quit smoking", "start jogging"),
         ("lower my blood pressure", "raise my blood pressure"), ("improve my credit score", "check my credit score"),
         ("speed up my computer", "cool down my computer"), ("get rid of acne", "get rid of dandruff")]

NUMBERS = [2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 50, 100, 150, 200, 250, 300, 500, 1000]
YEARS = list(range(1900, 2026, 7))


def fam(name, slots, templates, negatives=(), symmetric=False, ordered=None):
    """One family. `slots`: slot -> list of values (or of (x, y) pairs for a
    qualifier whose other value is a hard negative). `negatives`: templates of
    the same slots that ask something else (different intent)."""
    return {
        "name": name,
        "slots": slots,
        "templates": templates,
        "negatives": list(negatives),
        "symmetric": symmetric,
        "ordered": ordered,
    }


FAMILIES = [
    fam("capital", {"c": COUNTRIES}, [
        "What is the capital of {c}?", "What's the capital city of {c}?", "Which city is the capital of {c}?",
        "Tell me the capital of {c}.", "what is {c}'s capital", "Name the capital of {c}.",
        "Can you tell me what the capital of {c} is?", "capital of {c}?",
    ], negatives=["What is the largest city in {c}?", "What is the population of {c}?", "What currency does {c} use?"]),
    fam("recipe", {"d": DISHES}, [
        "Give me a recipe for {d}.", "Can you give me a {d} recipe?", "How do I make {d}?",
        "What's a good recipe for {d}?", "I want to make {d}. What's the recipe?", "recipe for {d} please",
        "How can I make {d} at home?", "Share a simple recipe for {d}.",
    ], negatives=["How many calories are in {d}?", "How long does {d} keep in the fridge?", "Can I freeze {d}?",
                  "What wine goes well with {d}?"]),
    fam("vegan_recipe", {"d": DISHES}, [
        "Give me a vegan recipe for {d}.", "How do I make vegan {d}?", "What's a good vegan {d} recipe?",
        "Can you share a recipe for {d} without any animal products?",
    ], negatives=["Give me a recipe for {d}.", "Give me a gluten-free recipe for {d}.", "Give me a keto recipe for {d}."]),
    fam("code", {"lang": PROG_LANGS, "task": CODE_TASKS}, [
        "Write a {lang} function to {task}.", "How do I {task} in {lang}?", "Show me {lang} code to {task}.",
        "In {lang}, how can I {task}?", "{lang}: {task}", "What's the {lang} code to {task}?",
        "Can you write {lang} code that will {task}?", "How would you {task} using {lang}?",
    ]),
    fam("translate", {"p": ["good morning", "thank you very much", "where is the train station", "I love you",
                            "how much does this cost", "happy birthday", "nice to meet you", "excuse me",
                            "I am hungry", "see you tomorrow", "what time is it", "I don't understand",
                            "the bill, please", "good night", "welcome", "congratulations"],
                      "lang": LANGUAGES}, [
        "Translate '{p}' into {lang}.", "How do you say '{p}' in {lang}?", "What is '{p}' in {lang}?",
        "How would I say '{p}' in {lang}?", "'{p}' in {lang}?", "Can you translate \"{p}\" to {lang}?",
    ]),
    fam("convert", {"n": NUMBERS, "u": UNITS}, [
        "Convert {n} {u0} to {u1}.", "How many {u1} are in {n} {u0}?", "What is {n} {u0} in {u1}?",
        "{n} {u0} to {u1}", "How much is {n} {u0} in {u1}?", "Please convert {n} {u0} into {u1}.",
    ], ordered=("u0", "u1")),
    fam("explain", {"x": CONCEPTS}, [
        "Explain {x} in simple terms.", "What is {x}?", "Can you explain {x} to me?", "Help me understand {x}.",
        "What does {x} mean?", "Give me an explanation of {x}.", "I don't get {x}. Can you explain it?",
        "explain {x}",
    ], negatives=["What is the history of {x}?", "Who discovered {x}?", "What are the criticisms of {x}?"]),
    fam("explain_to", {"x": CONCEPTS, "aud": AUDIENCES}, [
        "Explain {x} to {aud}.", "How would you explain {x} to {aud}?", "Describe {x} so that {aud} can understand it.",
        "Can you explain {x} in a way {aud} would understand?",
    ]),
    fam("difference", {"a": PROG_LANGS, "b": PROG_LANGS}, [
        "What is the difference between {a} and {b}?", "How does {a} differ from {b}?", "{a} vs {b}: what are the differences?",
        "What are the main differences between {a} and {b}?", "Compare {a} and {b}.", "{a} or {b}, how are they different?",
    ], symmetric=True),
    fam("difference_concepts", {"a": CONCEPTS, "b": CONCEPTS}, [
        "What is the difference between {a} and {b}?", "How is {a} different from {b}?",
        "Compare {a} with {b}.", "{a} versus {b}: what's the difference?",
    ], symmetric=True),
    fam("conquer", {"a": EMPIRES, "b": EMPIRES}, [
        "Did {a} conquer {b}?", "Were {b} conquered by {a}?", "Is it true that {a} conquered {b}?",
        "Did {a} ever defeat and conquer {b}?",
    ], ordered=("a", "b")),
    fam("beat", {"a": SPORTS_TEAMS, "b": SPORTS_TEAMS}, [
        "When did {a} last beat {b}?", "What was the last time {a} won against {b}?",
        "When was {a}'s most recent win over {b}?",
    ], ordered=("a", "b")),
    fam("influence", {"a": PEOPLE, "b": PEOPLE}, [
        "How did {a} influence {b}?", "What influence did {a} have on {b}?", "In what ways was {b} influenced by {a}?",
    ], ordered=("a", "b")),
    fam("flight", {"a": CITIES, "b": CITIES}, [
        "How long is the flight from {a} to {b}?", "What's the flight time from {a} to {b}?",
        "How many hours does it take to fly from {a} to {b}?", "flight duration {a} to {b}",
    ], ordered=("a", "b")),
    fam("timezone", {"a": CITIES, "b": CITIES}, [
        "What is the time difference between {a} and {b}?", "How many hours ahead or behind is {a} compared to {b}?",
        "Time difference {a} and {b}?",
    ], symmetric=True),
    fam("visit", {"c": COUNTRIES}, [
        "What is the best time of year to visit {c}?", "When should I visit {c}?", "What's the best season to travel to {c}?",
        "When is the ideal time to go to {c}?", "best month to visit {c}?",
    ], negatives=["Do I need a visa to visit {c}?", "Is it safe to visit {c}?", "What should I pack for a trip to {c}?"]),
    fam("visa", {"c": COUNTRIES, "from": COUNTRIES}, [
        "Do I need a visa to travel to {c} with a {from} passport?", "Does a citizen of {from} need a visa for {c}?",
        "Visa requirements for {from} citizens visiting {c}?",
    ], ordered=("c", "from")),
    fam("lifespan", {"a": ANIMALS}, [
        "How long do {a} live?", "What is the average lifespan of {a}?", "What's the life expectancy of {a}?",
        "How many years do {a} usually live?", "average age {a} live to",
    ], negatives=["What do {a} eat?", "How big do {a} get?", "How long are {a} pregnant?"]),
    fam("diet", {"a": ANIMALS}, [
        "What do {a} eat?", "What is the diet of {a}?", "What food should I give {a}?", "What should {a} be fed?",
    ], negatives=["How long do {a} live?", "What can {a} not eat?", "How often should I feed {a}?"]),
    fam("egg", {"s": EGG_STYLES}, [
        "How long should I boil an egg for a {s} yolk?", "How many minutes to boil an egg with a {s} yolk?",
        "Boiling time for an egg with a {s} yolk?", "How long do I boil eggs to get {s} yolks?",
    ]),
    fam("pros_cons", {"x": DRUGS, "q": PAIR_QUALIFIERS}, [
        "What are the {q} of {x}?", "Tell me about the {q} of {x}.", "List the {q} of {x}.",
        "What {q} does {x} have?",
    ]),
    fam("email", {"s": STYLE_QUALIFIERS, "r": ["my boss", "a client", "my landlord", "a professor", "my team", "a recruiter"],
                  "p": ["asking for a day off", "declining a meeting", "asking for a raise", "apologizing for a delay",
                        "following up on an invoice", "requesting an extension", "announcing my resignation",
                        "thanking them for their help"]}, [
        "Write a {s} email to {r} {p}.", "Draft a {s} email to {r} {p}.", "Can you write me a {s} email to {r} {p}?",
        "Help me write a {s} email to {r} {p}.", "Compose a {s} message to {r} {p}.",
    ]),
    fam("essay", {"n": [100, 150, 200, 250, 300, 400, 500, 750, 1000], "t": TOPICS}, [
        "Write a {n}-word essay about {t}.", "Write an essay of {n} words on {t}.", "Can you write a {n} word essay on {t}?",
        "I need a {n}-word essay about {t}.", "Compose an essay about {t}, about {n} words long.",
    ]),
    fam("summary_points", {"n": [3, 4, 5, 6, 7, 10], "t": TOPICS}, [
        "Summarize the debate about {t} in {n} bullet points.", "Give me {n} bullet points summarizing the debate on {t}.",
        "In {n} bullet points, summarize the arguments around {t}.",
    ]),
    fam("poem", {"t": TOPICS + ["the ocean", "autumn", "my cat", "friendship", "the moon", "coffee"],
                 "f": ["haiku", "limerick", "sonnet", "free verse poem", "rhyming poem"]}, [
        "Write a {f} about {t}.", "Can you write me a {f} about {t}?", "Compose a {f} on {t}.",
        "I'd like a {f} about {t}.",
    ]),
    fam("software_verb", {"v": OPPOSITE_VERBS, "app": APPS, "os": OSES}, [
        "How do I {v} {app} on {os}?", "How can I {v} {app} on {os}?", "What are the steps to {v} {app} on {os}?",
        "{v} {app} on {os}", "What's the easiest way to {v} {app} on {os}?",
    ]),
    fam("subscription", {"v": SUB_VERBS, "p": PRODUCTS}, [
        "How do I {v} my {p} subscription?", "How can I {v} {p}?", "What are the steps to {v} my {p} subscription?",
        "I want to {v} my {p} subscription. How?",
    ]),
    fam("password", {"svc": PRODUCTS + APPS, "act": [("reset", "change"), ("recover", "reset"), ("change", "remove")]}, [
        "How do I {act} my {svc} password?", "How can I {act} the password for {svc}?", "{act} {svc} password",
        "What are the steps to {act} my password on {svc}?",
    ]),
    fam("goal", {"g": GOALS}, [
        "What's the best way to {g}?", "How can I {g}?", "Give me tips to {g}.", "What should I do to {g}?",
        "Any advice on how to {g}?",
    ]),
    fam("history_year", {"y": YEARS, "c": COUNTRIES}, [
        "What happened in {c} in {y}?", "What were the major events in {c} in {y}?", "Tell me about {c} in {y}.",
    ]),
    fam("born", {"p": PEOPLE}, [
        "When was {p} born?", "What year was {p} born?", "What is {p}'s date of birth?", "{p} birth year?",
    ], negatives=["When did {p} die?", "Where was {p} born?", "What is {p} famous for?"]),
    fam("famous", {"p": PEOPLE}, [
        "What is {p} famous for?", "Why is {p} famous?", "What is {p} known for?", "What made {p} famous?",
    ], negatives=["When was {p} born?", "Who was {p} married to?", "How did {p} die?"]),
    fam("percent", {"p": [5, 10, 12, 15, 18, 20, 25, 30, 40, 75], "n": [40, 60, 80, 120, 150, 200, 250, 300, 480, 1200]}, [
        "What is {p}% of {n}?", "Calculate {p} percent of {n}.", "How much is {p}% of {n}?", "{p}% of {n} = ?",
    ]),
    fam("weather_clothes", {"c": CITIES, "m": ["January", "March", "April", "July", "August", "October", "December"]}, [
        "What should I wear in {c} in {m}?", "What clothes should I pack for {c} in {m}?", "How should I dress for {c} in {m}?",
    ]),
    fam("learn", {"x": LANGUAGES + PROG_LANGS}, [
        "What's the best way to learn {x}?", "How should I start learning {x}?", "How can I learn {x} quickly?",
        "Any tips for learning {x}?", "How do I get started with {x}?",
    ], negatives=["Is {x} hard to learn?", "How long does it take to learn {x}?", "Why should I learn {x}?"]),
    fam("hardlearn", {"x": LANGUAGES + PROG_LANGS}, [
        "Is {x} hard to learn?", "How difficult is it to learn {x}?", "Is learning {x} difficult?",
        "How hard is {x} for a beginner?",
    ], negatives=["Is {x} easy to learn?", "How long does it take to learn {x}?"]),
    fam("error", {"app": APPS, "code": [400, 401, 403, 404, 409, 429, 500, 502, 503, 504]}, [
        "Why am I getting a {code} error from {app}?", "What does a {code} error in {app} mean?",
        "How do I fix error {code} in {app}?", "{app} keeps returning {code}. Why?",
    ]),
    fam("speed", {"a": ["a cheetah", "a horse", "a greyhound", "an ostrich", "a lion", "a rabbit", "a kangaroo",
                        "a hummingbird", "a falcon", "a sailfish", "an elephant", "a human"]}, [
        "How fast can {a} run?", "What is the top speed of {a}?", "How fast is {a}?", "What's the maximum speed of {a}?",
    ]),
    fam("compare_more", {"a": CITIES, "b": CITIES, "q": [("more expensive", "cheaper"), ("bigger", "smaller"),
                                                         ("colder", "warmer"), ("safer", "more dangerous")]}, [
        "Is {a} {q} than {b}?", "Is it true that {a} is {q} than {b}?", "Would you say {a} is {q} than {b}?",
    ], ordered=("a", "b")),
    fam("meaning_word", {"w": ["serendipity", "ephemeral", "ubiquitous", "quixotic", "melancholy", "resilience",
                               "paradigm", "nostalgia", "hubris", "catharsis", "irony", "empathy", "sonder", "hygge"]}, [
        "What does {w} mean?", "What is the meaning of the word {w}?", "Define {w}.", "definition of {w}",
        "Can you tell me what '{w}' means?",
    ], negatives=["Use {w} in a sentence.", "What is the opposite of {w}?", "What is the origin of the word {w}?",
                  "How do you pronounce {w}?"]),
    fam("fix_code", {"lang": PROG_LANGS, "err": ["null pointer exception", "segmentation fault", "stack overflow",
                                                  "memory leak", "infinite loop", "race condition", "off-by-one error",
                                                  "deadlock", "timeout", "import error"]}, [
        "How do I debug a {err} in {lang}?", "How can I fix a {err} in my {lang} code?", "{lang} {err}: how to fix?",
        "What causes a {err} in {lang} and how do I fix it?",
    ]),
    fam("book_summary", {"b": ["1984", "Pride and Prejudice", "The Great Gatsby", "Moby Dick", "Hamlet", "Macbeth",
                               "War and Peace", "The Hobbit", "Dune", "Frankenstein", "Brave New World",
                               "To Kill a Mockingbird", "The Odyssey", "Crime and Punishment", "Don Quixote"]}, [
        "Summarize {b}.", "Give me a summary of {b}.", "What is {b} about?", "Can you summarize the plot of {b}?",
        "What's the plot of {b}?", "tl;dr of {b}",
    ], negatives=["Who wrote {b}?", "What are the main themes of {b}?", "Who is the main character in {b}?",
                  "When was {b} published?"]),
    fam("rate", {"x": ["Bitcoin", "gold", "the euro", "the dollar", "Tesla stock", "oil", "silver", "Ethereum",
                       "the yen", "Apple stock"], "dir": [("go up", "go down"), ("rise", "fall"), ("increase", "drop")]}, [
        "Why did {x} {dir} today?", "What made {x} {dir} today?", "Why is {x} going to {dir} today?",
    ]),
    fam("temperature_cook", {"d": ["chicken breast", "salmon", "steak", "pork chops", "a turkey", "potatoes",
                                   "a whole chicken", "meatloaf", "a ham", "lamb chops"], "t": [325, 350, 375, 400, 425, 450]}, [
        "How long should I bake {d} at {t} degrees?", "How many minutes do I cook {d} at {t}°F?",
        "Cooking time for {d} at {t} degrees?", "At {t} degrees, how long does {d} take in the oven?",
    ]),
    fam("gift", {"r": ["my mom", "my dad", "my wife", "my husband", "a coworker", "my boss", "a teenager",
                       "a 5-year-old", "my grandfather", "a new neighbor"], "b": [20, 50, 100, 200, 500]}, [
        "What's a good gift for {r} under ${b}?", "Suggest a gift for {r} that costs less than ${b}.",
        "Gift ideas for {r}, budget ${b}?", "What can I buy {r} for under ${b}?",
    ]),
    fam("sql", {"op": [("select", "delete"), ("insert", "update"), ("count", "sum")],
                "t": ["users", "orders", "products", "employees", "invoices", "customers"],
                "cond": ["created in the last 7 days", "with a null email", "older than 30 days", "from Canada",
                         "with more than 5 items", "marked inactive"]}, [
        "Write a SQL query to {op} rows in the {t} table {cond}.", "SQL to {op} {t} {cond}?",
        "How do I {op} rows from {t} {cond} in SQL?", "Give me a SQL statement that will {op} the {t} rows {cond}.",
    ]),
    fam("regex", {"x": ["an email address", "a US phone number", "a URL", "an IPv4 address", "a date in YYYY-MM-DD format",
                        "a hex color code", "a postal code", "a credit card number", "a time in HH:MM format"]}, [
        "Write a regex that matches {x}.", "What regular expression matches {x}?", "Give me a regex for {x}.",
        "regex to validate {x}",
    ]),
    fam("nutrition", {"f": ["an avocado", "a banana", "an egg", "a cup of rice", "an apple", "a slice of pizza",
                            "a tablespoon of olive oil", "a can of coke", "a bagel", "100 grams of chicken"],
                      "q": [("calories", "grams of protein"), ("carbs", "grams of fat"), ("grams of sugar", "grams of fiber")]}, [
        "How many {q} are in {f}?", "How many {q} does {f} have?", "{q} in {f}?", "What's the number of {q} in {f}?",
    ]),
    fam("drive_dist", {"a": CITIES, "b": CITIES}, [
        "How far is {a} from {b}?", "What is the distance between {a} and {b}?", "How many miles between {a} and {b}?",
    ], symmetric=True),
    fam("who_won", {"e": ["the World Cup", "the Super Bowl", "the NBA Finals", "Wimbledon", "the Tour de France",
                          "the Oscars for best picture", "the Nobel Peace Prize", "the Champions League", "Eurovision"],
                    "y": [1998, 2002, 2006, 2010, 2014, 2015, 2018, 2019, 2021, 2022, 2023]}, [
        "Who won {e} in {y}?", "Which team or person won {e} in {y}?", "{e} {y} winner?", "Who was the winner of {e} in {y}?",
    ]),
    fam("stock_sym", {"a": ["buy", "sell", "short", "hold"], "x": ["Apple", "Tesla", "Nvidia", "Amazon", "Google",
                                                                 "Microsoft", "Netflix", "Meta", "Intel", "AMD"]}, [
        "Should I {a} {x} stock now?", "Is now a good time to {a} {x} shares?", "Is it smart to {a} {x} stock right now?",
    ]),
    fam("cities_things", {"c": CITIES, "k": [("museums", "restaurants"), ("things to do", "places to stay"),
                                              ("hiking trails", "beaches"), ("coffee shops", "bars")]}, [
        "What are the best {k} in {c}?", "Recommend some good {k} in {c}.", "Which {k} in {c} are worth it?",
        "Top {k} in {c}?",
    ]),
]

JOBS = ["software engineer", "data analyst", "product manager", "nurse", "teacher", "graphic designer",
        "marketing manager", "accountant", "sales representative", "project manager", "UX researcher",
        "mechanical engineer", "barista", "paralegal", "DevOps engineer", "copywriter"]
COMPANIES = ["Google", "Microsoft", "Amazon", "a startup", "a hospital", "a bank", "Spotify", "a nonprofit",
             "IKEA", "Airbnb", "a law firm", "Shopify", "a consulting firm", "Toyota"]
SKILLS = ["Python", "project management", "customer service", "data visualization", "SQL", "public speaking",
          "Figma", "sales", "machine learning", "budgeting", "copywriting", "Kubernetes"]

FAMILIES += [
    fam("cover_letter", {"job": JOBS, "co": COMPANIES, "n": [1, 2, 3, 5, 7, 10, 15], "skill": SKILLS}, [
        "Write a cover letter for a {job} position at {co}, highlighting my {n} years of experience in {skill}.",
        "Can you draft a cover letter for a {job} job at {co}? I have {n} years of experience with {skill}.",
        "I'm applying to be a {job} at {co}. Please write my cover letter and mention my {n} years in {skill}.",
        "Help me write a cover letter for the {job} role at {co} that emphasizes {n} years of {skill} experience.",
    ]),
    fam("trip_plan", {"c": CITIES, "n": [2, 3, 4, 5, 7, 10, 14], "who": ["my family with two kids", "my partner",
                                                                        "a group of friends", "myself", "my parents"]}, [
        "Plan a {n}-day trip to {c} for {who}.", "Can you make me a {n}-day itinerary for {c}? I'm traveling with {who}.",
        "I'm going to {c} for {n} days with {who}. What should our itinerary be?",
        "Create an itinerary for {n} days in {c}, traveling with {who}.",
    ]),
    fam("support_order", {"n": [10234, 55821, 99120, 31337, 48213, 77001, 12345, 60606],
                          "issue": [("hasn't arrived", "arrived damaged"), ("was charged twice", "was never charged"),
                                    ("is missing an item", "has an extra item"), ("shows as delivered but I don't have it", "is stuck in customs")]}, [
        "My order #{n} {issue}. What should I do?", "Order {n} {issue} - can you help?",
        "Hi, order number {n} {issue}. How do I fix this?", "What can I do? My order {n} {issue}.",
    ]),
    fam("workout", {"n": [10, 15, 20, 30, 45, 60], "g": [("upper body", "lower body"), ("beginners", "advanced lifters"),
                                                         ("at home with no equipment", "at the gym"), ("cardio", "strength")]}, [
        "Give me a {n}-minute workout for {g}.", "Create a {n} minute workout plan for {g}.",
        "What's a good {n}-minute workout for {g}?", "I have {n} minutes. Suggest a workout for {g}.",
    ]),
    fam("rewrite", {"s": STYLE_QUALIFIERS, "x": ["this paragraph", "my resume summary", "this tweet", "my bio",
                                                 "this product description", "the following sentence", "my LinkedIn headline"]}, [
        "Rewrite {x} to sound more {s}.", "Make {x} more {s}.", "Can you rewrite {x} so it's more {s}?",
        "Please edit {x} to be more {s}.",
    ]),
    fam("math_solve", {"a": [2, 3, 4, 5, 7, 9, 12], "b": [1, 3, 5, 6, 8, 10, 11, 20], "c": [7, 9, 15, 17, 21, 30, 41]}, [
        "Solve {a}x + {b} = {c}.", "What is x if {a}x + {b} = {c}?", "Find x: {a}x + {b} = {c}",
        "How do I solve the equation {a}x + {b} = {c}?",
    ]),
    fam("age_question", {"x": ["start walking", "start talking", "get their first tooth", "sleep through the night",
                               "start crawling", "be potty trained", "start solid foods"]}, [
        "At what age do babies usually {x}?", "When do most babies {x}?", "What age should a baby {x}?",
        "How old are babies when they {x}?",
    ], negatives=["What can I do to help my baby {x}?", "Is it normal if my baby doesn't {x} yet?"]),
    # One template, one slot changed: "verify my username" / "verify my password"
    # ask different things however alike they read.
    fam("account_item", {"act": [("verify", "change"), ("update", "remove"), ("recover", "reset"), ("add", "delete")],
                         "x": ["email address", "username", "password", "phone number", "identity", "payment method",
                               "billing address", "security questions", "profile picture", "display name",
                               "date of birth", "backup email", "recovery codes", "shipping address", "tax ID",
                               "bank account"]}, [
        "How can I {act} my {x}?", "How do I {act} my {x}?", "What are the steps to {act} my {x}?",
        "I need to {act} my {x}. How do I do that?", "how to {act} the {x} on my account",
        "Where do I go to {act} my {x}?",
    ], negatives=["Why can't I {act} my {x}?", "Who can see my {x}?"]),
    fam("account_settings", {"act": [("confirm", "edit"), ("change", "delete"), ("set up", "turn off"), ("link", "unlink")],
                             "x": ["email", "login name", "passcode", "mobile number", "credit card", "home address",
                                   "PIN", "recovery phone", "avatar", "nickname", "birthday", "secondary email",
                                   "Google account", "Apple ID", "work address", "bank details", "passkey",
                                   "security key", "linked accounts", "alternate email"]}, [
        "How can I {act} my {x}?", "How do I {act} the {x} on my account?", "Steps to {act} my {x}?",
        "Can you tell me how to {act} my {x}?", "{act} {x} on my account", "Is there a way to {act} my {x}?",
    ], negatives=["What happens if I {act} my {x}?", "Can someone else {act} my {x}?"]),
    fam("device_setting", {"x": ["Wi-Fi calling", "night shift", "airplane mode", "auto-brightness", "do not disturb",
                                 "the screen lock", "app permissions", "location history", "voice assistant",
                                 "push notifications", "the camera sound", "haptic feedback", "battery saver",
                                 "hotspot", "NFC", "automatic backups"],
                           "v": [("switch off", "switch on"), ("activate", "deactivate")],
                           "os": OSES}, [
        "How do I {v} {x} on {os}?", "How to {v} {x} on {os}?", "Where can I {v} {x} on {os}?",
        "On {os}, how do I {v} {x}?", "What's the way to {v} {x} on {os}?",
    ]),
    fam("settings_item", {"x": ["notifications", "dark mode", "location services", "autoplay", "read receipts",
                                "two-factor authentication", "cookies", "auto-updates", "Bluetooth", "the firewall",
                                "spell check", "autocorrect", "screen time limits", "background app refresh"],
                          "v": [("turn off", "turn on"), ("enable", "disable")],
                          "os": OSES}, [
        "How do I {v} {x} on {os}?", "How can I {v} {x} on {os}?", "Where is the setting to {v} {x} on {os}?",
        "{v} {x} on {os}", "What are the steps to {v} {x} on {os}?",
    ]),
]

# ------------------------------------------------------------ relations
# Ordered relations: swapping the two sides asks something else ("Did A
# conquer B?" / "Did B conquer A?"), while the passive voice with the sides
# kept is the same question. Many verbs and many kinds of things, so the
# model learns the order itself, not a list of verbs.

RELATION_VERBS = [
    ("conquer", "conquered"), ("defeat", "defeated"), ("invade", "invaded"), ("attack", "attacked"),
    ("beat", "beaten"), ("hire", "hired"), ("fire", "fired"), ("sue", "sued"), ("betray", "betrayed"),
    ("influence", "influenced"), ("inspire", "inspired"), ("teach", "taught"), ("replace", "replaced"),
    ("acquire", "acquired"), ("buy", "bought"), ("overtake", "overtaken"), ("outsell", "outsold"),
    ("criticize", "criticized"), ("endorse", "endorsed"), ("copy", "copied"), ("sponsor", "sponsored"),
    ("annex", "annexed"), ("colonize", "colonized"), ("succeed", "succeeded"), ("mentor", "mentored"),
]

RELATION_SIDES = [
    EMPIRES,
    PEOPLE,
    ["Apple", "Microsoft", "Google", "Amazon", "Meta", "IBM", "Oracle", "Intel", "Nvidia", "Samsung",
     "Sony", "Nokia", "Tesla", "Ford", "Toyota", "Netflix", "Disney", "Adobe", "Uber", "Airbnb"],
    [c for c in COUNTRIES if c not in ("Scotland",)],
    SPORTS_TEAMS,
]

RELATION_TEMPLATES = [
    ("Did {a} {v} {b}?", "Was {b} {p} by {a}?"),
    ("Why did {a} {v} {b}?", "Why was {b} {p} by {a}?"),
    ("When did {a} {v} {b}?", "When was {b} {p} by {a}?"),
    ("How did {a} {v} {b}?", "How was {b} {p} by {a}?"),
    ("Is it true that {a} {v}s {b}?", "Is it true that {b} is {p} by {a}?"),
]

# Directions: from/to, into, than — the order is the question. Each entry is a
# list of templates that ask the same thing ({a} the source or the larger side,
# {b} the other), some naming {b} first ("to B from A"), so the model learns the
# roles, not the word order; swapping {a} and {b} asks something else.
CURRENCIES = ["US dollars", "euros", "British pounds", "Japanese yen", "Swiss francs", "Indian rupees",
              "Canadian dollars", "Chinese yuan", "Mexican pesos", "Brazilian reais"]
FILE_FORMATS = ["PDF", "Word", "JPEG", "PNG", "CSV", "Excel", "MP4", "MP3", "HTML", "Markdown", "JSON",
                "YAML", "XML", "GIF", "WAV", "EPUB", "SVG", "TXT"]
DATA_TYPES = ["int", "string", "float", "double", "long", "char", "byte array", "list", "array", "map",
              "set", "tuple", "boolean", "dictionary", "vector", "slice"]
MONEY_PLACES = ["checking account", "savings account", "PayPal account", "Venmo", "credit card",
                "brokerage account", "401(k)", "Roth IRA", "debit card", "Cash App", "HSA", "crypto wallet"]
WORK_TOOLS = ["Trello", "Jira", "Asana", "Notion", "Evernote", "Google Drive", "Dropbox", "OneDrive",
              "Gmail", "Outlook", "Slack", "Microsoft Teams", "GitHub", "GitLab", "Salesforce", "HubSpot"]

DIRECTIONS_SHARED = [
    (["How do I migrate from {a} to {b}?", "What's the best way to move from {a} to {b}?",
      "How can I migrate to {b} from {a}?"], PROG_LANGS + APPS),
    (["What is the exchange rate from {a} to {b}?", "How much is one {a} in {b}?",
      "How many {b} do I get for one {a}?"], CURRENCIES),
    (["Translate this sentence from {a} into {b}.", "Please translate this sentence from {a} to {b}.",
      "Translate this {a} sentence into {b}."], LANGUAGES),
    (["Is {a} bigger than {b}?", "Is {a} larger than {b}?", "Is {b} smaller than {a}?"], COUNTRIES + CITIES),
    (["Is {a} older than {b}?", "Was {a} born before {b}?", "Is {b} younger than {a}?"], PEOPLE),
    (["How do I switch from {a} to {b}?", "What are the steps to switch from {a} to {b}?",
      "How can I switch to {b} from {a}?"], OSES + APPS),
    (["How long does it take to drive from {a} to {b}?", "What is the driving time from {a} to {b}?",
      "How many hours is the drive to {b} from {a}?"], CITIES),
]

# Split by template between training and validation (see relation_pairs), so
# the validation figures include direction forms the model never saw.
DIRECTIONS_SPLIT = [
    (["How do I convert a {a} file to {b}?", "How can I turn a {a} into a {b} file?",
      "What's the easiest way to convert {a} to {b}?", "Convert {a} to {b}"], FILE_FORMATS),
    (["How do I convert a {a} to a {b}?", "How can I cast a {a} to a {b}?",
      "What's the way to turn a {a} into a {b}?"], DATA_TYPES),
    (["How do I transfer money from my {a} to my {b}?", "Can I move money from my {a} into my {b}?",
      "How can I send money to my {b} from my {a}?"], MONEY_PLACES),
    (["How much does it cost to ship a package from {a} to {b}?", "What is the shipping cost from {a} to {b}?",
      "How expensive is it to send a parcel to {b} from {a}?"], COUNTRIES),
    (["Is {a} faster than {b}?", "Does {a} run faster than {b}?", "Is {b} slower than {a}?"], PROG_LANGS),
    (["Should I move from {a} to {b}?", "Is moving from {a} to {b} a good idea?",
      "Is it worth relocating to {b} from {a}?"], CITIES),
    (["How do I port my {a} code to {b}?", "How can I rewrite my {a} code in {b}?",
      "What's the best way to translate a {a} codebase into {b}?"], PROG_LANGS),
    (["How do I export my data from {a} to {b}?", "How can I move everything from {a} into {b}?",
      "How do I import my {a} data into {b}?"], WORK_TOOLS),
    (["How do I get from {a} to {b} by train?", "What is the train route from {a} to {b}?",
      "Which train goes to {b} from {a}?"], CITIES),
    (["Is {a} north of {b}?", "Does {a} lie north of {b}?", "Is {b} south of {a}?"], CITIES + COUNTRIES),
    (["Do {a} eat {b}?", "Will {a} eat {b}?", "Are {b} eaten by {a}?"], ANIMALS),
    (["Is {a} more popular than {b}?", "Do more people use {a} than {b}?", "Is {b} less popular than {a}?"],
     PROG_LANGS + APPS),
    (["Is a flight from {a} to {b} cheaper in winter?", "Are flights from {a} to {b} cheaper in the winter?",
      "Is it cheaper to fly to {b} from {a} in winter?"], CITIES),
    (["How do I redirect traffic from {a} to {b}?", "How can I forward requests from {a} to {b}?",
      "How do I send {a} traffic to {b}?"], ["HTTP", "HTTPS", "port 80", "port 443", "port 8080", "the old domain",
                                              "the new domain", "www", "the staging server", "the production server"]),
]

# Training only (never in validation, so the validation split stays as it
# was): more ordered forms, so that "A then B" is learned as a pattern of
# the pair rather than of a few templates.
STORAGE = ["my laptop", "my phone", "an external drive", "a USB stick", "iCloud", "Google Drive", "Dropbox",
           "OneDrive", "the server", "my old PC", "my new PC", "a NAS", "an SD card", "S3"]
MAILBOXES = ["Gmail", "Outlook", "Yahoo Mail", "iCloud Mail", "ProtonMail", "my work account",
             "my personal account", "my old address", "my new address", "Fastmail"]
DEVICES = ["iPhone", "iPad", "MacBook", "Android phone", "Kindle", "Nintendo Switch", "Windows laptop",
           "Galaxy tablet", "Pixel", "AirPods case", "Steam Deck", "GoPro"]
EVENTS = ["World War I", "World War II", "the French Revolution", "the American Revolution", "the Renaissance",
          "the Industrial Revolution", "the Cold War", "the fall of Rome", "the moon landing",
          "the invention of the printing press", "the Black Death", "the Reformation"]
KINDS = ["square", "rectangle", "tomato", "fruit", "vegetable", "whale", "mammal", "fish", "bat", "bird",
         "virus", "bacterium", "penguin", "spider", "insect", "mushroom", "plant", "peanut", "nut", "legume"]
CONDITIONS = ["stress", "insomnia", "anxiety", "depression", "high blood pressure", "obesity", "diabetes",
              "headaches", "dehydration", "fatigue", "back pain", "poor posture"]
UNITS = ["miles", "kilometers", "pounds", "kilograms", "ounces", "grams", "inches", "centimeters", "feet",
         "meters", "gallons", "liters", "Celsius", "Fahrenheit", "cups", "milliliters"]

DIRECTIONS_TRAIN_ONLY = [
    (["How do I copy files from {a} to {b}?", "How can I move my files from {a} onto {b}?",
      "What's the way to copy files to {b} from {a}?"], STORAGE),
    (["How do I forward emails from {a} to {b}?", "How can I auto-forward my mail from {a} to {b}?",
      "How do I send all my email to {b} from {a}?"], MAILBOXES),
    (["Can I charge a {b} with a {a} charger?", "Will a {a} charger work for a {b}?",
      "Is it safe to use a {a} charger on a {b}?"], DEVICES),
    (["Did {a} happen before {b}?", "Was {a} earlier than {b}?", "Did {b} happen after {a}?"], EVENTS),
    (["Is a {a} a kind of {b}?", "Is a {a} a type of {b}?", "Does a {a} count as a {b}?"], KINDS),
    (["Can {a} cause {b}?", "Does {a} lead to {b}?", "Is {b} caused by {a}?"], CONDITIONS),
    (["How do I convert {a} to {b}?", "What's the formula to convert {a} into {b}?",
      "How can I turn {a} into {b}?"], UNITS),
    (["Would {a} win a fight against {b}?", "Can {a} beat {b} in a fight?", "Would {b} lose a fight to {a}?"],
     ANIMALS),
    (["Is living in {a} more expensive than living in {b}?", "Does it cost more to live in {a} than in {b}?",
      "Is {b} cheaper to live in than {a}?"], CITIES),
    (["How do I call {a} code from {b}?", "How can I use a {a} library from {b}?",
      "What's the way to invoke {a} functions in a {b} program?"], PROG_LANGS),
    (["Can {a} speakers understand {b}?", "Is {b} easy to understand for {a} speakers?",
      "Do {a} speakers find {b} easy to understand?"], LANGUAGES),
    (["How do I upgrade from {a} to {b}?", "What are the steps to upgrade {a} to {b}?",
      "How can I go to {b} from {a}?"], OSES),
    (["Does {a} influence {b}?", "Did {a} shape the work of {b}?", "Was {b} influenced by {a}?"], PEOPLE),
    (["How do I send a file from {a} to {b}?", "How can I transfer a photo from my {a} to my {b}?",
      "What's the best way to get files onto my {b} from my {a}?"], DEVICES),
]


def relation_pairs(rng, split, seed, n, values_for, bucket, only=None):
    """Ordered relations and directions: passive-voice and reworded
    positives, swapped-sides negatives, other-verb negatives."""
    out = []
    verbs = values_for(RELATION_VERBS, split, seed)
    directions = only or DIRECTIONS_SHARED + [d for d in DIRECTIONS_SPLIT
                                              if (bucket(f"direction:{d[0][0]}", seed) < 0.25) == (split == "val")]
    while len(out) < n:
        if not only and rng.random() < 0.5:
            sides = values_for(rng.choice(RELATION_SIDES), split, seed)
            a, b = rng.sample(sides, 2)
            (v, p) = rng.choice(verbs)
            active, passive = rng.choice(RELATION_TEMPLATES)
            base = active.format(a=a, b=b, v=v, p=p)
            roll = rng.random()
            if roll < 0.35:
                other, label, kind = passive.format(a=a, b=b, v=v, p=p), 1, "gen-paraphrase"
            elif roll < 0.8:
                other = rng.choice([active, passive]).format(a=b, b=a, v=v, p=p)
                label, kind = 0, "gen-role-swap"
            else:
                (v2, p2) = rng.choice([x for x in verbs if x[0] != v])
                other, label, kind = active.format(a=a, b=b, v=v2, p=p2), 0, "gen-value"
        else:
            templates, pool = rng.choice(directions)
            pool = values_for(pool, split, seed)
            a, b = rng.sample(pool, 2)
            first, second = rng.sample(templates, 2)
            base = first.format(a=a, b=b)
            roll = rng.random()
            if roll < 0.4:
                other, label, kind = second.format(a=a, b=b), 1, "gen-paraphrase"
            else:
                other = rng.choice([first, second]).format(a=b, b=a)
                label, kind = 0, "gen-direction"
        base = base[0].upper() + base[1:]
        other = other[0].upper() + other[1:]
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind,
                    "family": "relations", "split": split})
    return out


# ------------------------------------------------------ composed orders
# Training only, from a generator of their own (gen_pairs.generated): ordered
# questions composed from many verbs, objects and comparatives, so that
# "which side is which" is learned across forms rather than per template. The
# validation split's own direction forms (money transfers, "faster than",
# redirects, shipping, train routes, …) and their words are left out, so the
# validation figures still measure forms the model never saw. Symmetric forms
# ("Which is colder, A or B?", "Compare A and B") are the positives that keep
# the model from learning "any swap is a different question".

INGREDIENTS = ["butter", "olive oil", "coconut oil", "honey", "sugar", "maple syrup", "baking soda",
               "baking powder", "milk", "heavy cream", "Greek yogurt", "sour cream", "eggs", "applesauce",
               "cornstarch", "flour", "almond flour", "margarine", "brown sugar", "buttermilk"]
OWNED_STORAGE = ["my iPhone", "my Android phone", "my old laptop", "my new laptop", "my Mac", "my Windows PC",
                 "my iPad", "my work computer", "iCloud", "Google Drive", "Dropbox", "OneDrive",
                 "an external hard drive", "a USB stick", "my SD card"]
HOSTS = ["dogs", "cats", "humans", "birds", "horses", "pigs", "chickens", "cows", "bats", "rabbits", "mice", "ferrets"]
CAREERS = ["teaching", "nursing", "accounting", "marketing", "sales", "software engineering", "data science",
           "journalism", "law", "finance", "graphic design", "customer support", "product management", "consulting"]
LEARNABLE = PROG_LANGS + LANGUAGES
SUBSTITUTES = APPS + WORK_TOOLS
COMPARATIVES = [
    (("taller", "shorter"), PEOPLE), (("heavier", "lighter"), ANIMALS), (("stronger", "weaker"), ANIMALS + EMPIRES),
    (("hotter", "colder"), CITIES + COUNTRIES), (("warmer", "cooler"), CITIES), (("safer", "more dangerous"), CITIES),
    (("richer", "poorer"), COUNTRIES), (("harder to learn", "easier to learn"), LEARNABLE),
    (("more verbose", "more concise"), PROG_LANGS), (("louder", "quieter"), ANIMALS),
    (("smarter", "less intelligent"), ANIMALS), (("more crowded", "less crowded"), CITIES),
    (("more famous", "less famous"), PEOPLE), (("longer-lived", "shorter-lived"), ANIMALS),
]


def _comparative_groups():
    out = []
    for (more, less), pool in COMPARATIVES:
        be = "are" if pool[0] in ANIMALS else "is"
        out.append(([f"{be.title()} {{a}} {more} than {{b}}?", f"{be.title()} {{b}} {less} than {{a}}?",
                     f"Would you say {{a}} {be} {more} than {{b}}?", f"{be.title()} {{a}} {more} compared to {{b}}?"],
                    pool))
    return out


def _transfer_groups():
    objects = ["my photos", "my contacts", "my notes", "my playlists", "my bookmarks", "my saved passwords",
               "my calendar", "my documents", "my chat history", "my game saves", "my videos", "my e-books"]
    out = []
    for verb in ["move", "copy", "sync", "migrate", "back up"]:
        for obj in objects:
            out.append(([f"How do I {verb} {obj} from {{a}} to {{b}}?", f"How can I {verb} {obj} to {{b}} from {{a}}?",
                         f"What's the easiest way to {verb} {obj} from {{a}} over to {{b}}?",
                         f"I want to {verb} {obj} from {{a}} to {{b}}. How?"], OWNED_STORAGE))
    return out


TRANSFERS_COMPOSED = _transfer_groups()
DIRECTIONS_COMPOSED = _comparative_groups() + [
    (["How long does it take to fly from {a} to {b}?", "What's the flight time from {a} to {b}?",
      "How many hours is a flight to {b} from {a}?"], CITIES),
    (["Can I take a bus from {a} to {b}?", "Is there a bus from {a} to {b}?", "Do buses run to {b} from {a}?"], CITIES),
    (["What time is it in {b} when it's noon in {a}?", "If it's 12 pm in {a}, what time is it in {b}?",
      "When it is midday in {a}, what's the time in {b}?"], CITIES),
    (["How do I call {b} from {a}?", "What code do I dial to call {b} from {a}?",
      "How can I phone someone in {b} while I'm in {a}?"], COUNTRIES),
    (["How hard is it to learn {b} if I already know {a}?", "Is {b} easy to pick up for someone who knows {a}?",
      "I know {a}; how hard will {b} be to learn?"], LEARNABLE),
    (["Should I learn {a} before {b}?", "Is it better to learn {a} first and then {b}?",
      "Should I learn {b} after {a}?"], LEARNABLE),
    (["Can I use {a} instead of {b} in baking?", "Can I substitute {a} for {b} when baking?",
      "Is it OK to replace {b} with {a} in a cake?"], INGREDIENTS),
    (["Can {a} catch a cold from {b}?", "Can {b} give {a} a cold?", "Is it possible for {a} to get sick from {b}?"],
     HOSTS),
    (["How do I switch careers from {a} to {b}?", "How can I move from {a} into {b}?",
      "What's the path to a job in {b} for someone in {a}?"], CAREERS),
    (["How do I replace {a} with {b} at work?", "How can I swap out {a} for {b}?",
      "What's involved in switching our team to {b} from {a}?"], SUBSTITUTES),
    (["Is {a} a good replacement for {b}?", "Can {a} replace {b}?", "Could {a} take the place of {b}?"],
     SUBSTITUTES),
    (["Can I feed {b} to {a}?", "Is it safe to give {b} to {a}?", "Can {a} eat {b}?"],
     [a for a in ANIMALS if a in ("dogs", "cats", "horses", "rabbits", "hamsters", "parrots", "chickens", "pigs")]),
]

# Conversions with an amount, in units and wordings the validation split never
# uses (its held-out "convert" family has megabytes/gigabytes and knots/miles
# per hour, and its own templates): the paraphrases put the two units in either
# order ("How many B make up 5 A?" / "Express 5 A in B."), so only the roles
# tell the two directions apart.
CONVERSION_UNITS = [
    ("kilobytes", "bytes"), ("bits", "bytes"), ("seconds", "milliseconds"), ("minutes", "seconds"),
    ("weeks", "months"), ("years", "days"), ("stones", "pounds"), ("tons", "kilograms"), ("pints", "cups"),
    ("quarts", "liters"), ("fluid ounces", "milliliters"), ("millimeters", "inches"), ("kilometers", "feet"),
    ("nautical miles", "kilometers"), ("square feet", "square meters"), ("kilowatts", "horsepower"),
    ("calories", "kilojoules"), ("psi", "bar"), ("Kelvin", "Celsius"), ("meters per second", "kilometers per hour"),
    ("miles per gallon", "liters per 100 km"), ("grams", "milligrams"), ("cubic feet", "liters"),
    ("hectares", "square miles"),
]
CONVERSION_TEMPLATES = [
    "Turn {n} {a} into {b} for me.", "I have {n} {a}; how many {b} is that?", "{n} {a} is how many {b}?",
    "Express {n} {a} in {b}.", "What do {n} {a} come to in {b}?", "Change {n} {a} to {b}, please.",
    "How many {b} make up {n} {a}?", "In {b}, how much is {n} {a}?", "{n} {a} -> {b}",
]

SYMMETRIC_COMPOSED = (
    [([f"Which is {more}, {{a}} or {{b}}?", f"{{a}} or {{b}}: which is {more}?",
       f"Between {{a}} and {{b}}, which is {more}?"], pool) for (more, _), pool in COMPARATIVES]
    + [(["Compare {a} and {b}.", "What are the differences between {a} and {b}?", "How do {a} and {b} differ?"],
        LEARNABLE + SUBSTITUTES + CITIES),
       (["What happens if I mix {a} and {b}?", "Is it OK to combine {a} with {b}?", "Can I mix {a} with {b}?"],
        INGREDIENTS),
       (["Is {a} compatible with {b}?", "Do {a} and {b} work together?", "Can I use {a} and {b} together?"],
        SUBSTITUTES),
       (["How far is {a} from {b}?", "What is the distance between {a} and {b}?", "How many miles apart are {a} and {b}?"],
        CITIES)]
)


def composed_pairs(rng, seed, n, values_for):
    """Training pairs from the composed forms: ordered groups as in
    relation_pairs (same roles: positive; sides swapped: negative) and
    symmetric groups, where swapping the sides keeps the question."""
    out = []
    while len(out) < n:
        roll = rng.random()
        if roll < 0.15:
            u = rng.choice(CONVERSION_UNITS)
            a, b = u if rng.random() < 0.5 else u[::-1]
            amount = rng.choice([1, 2, 3, 5, 7, 10, 12, 16, 20, 24, 30, 40, 60, 64, 75, 100, 250, 512, 1000, 1024])
            first, second = rng.sample(CONVERSION_TEMPLATES, 2)
            base = first.format(a=a, b=b, n=amount)
            if rng.random() < 0.4:
                other, label, kind = second.format(a=a, b=b, n=amount), 1, "gen-paraphrase"
            else:
                other, label, kind = rng.choice([first, second]).format(a=b, b=a, n=amount), 0, "gen-direction"
        elif roll < 0.32:
            templates, pool = rng.choice(SYMMETRIC_COMPOSED)
            a, b = rng.sample(values_for(pool, "train", seed), 2)
            first, second = rng.sample(templates, 2)
            base, other = first.format(a=a, b=b), rng.choice([first, second]).format(a=b, b=a)
            label, kind = 1, "gen-paraphrase"
        else:
            templates, pool = rng.choice(TRANSFERS_COMPOSED if rng.random() < 0.15 else DIRECTIONS_COMPOSED)
            a, b = rng.sample(values_for(pool, "train", seed), 2)
            first, second = rng.sample(templates, 2)
            base = first.format(a=a, b=b)
            if rng.random() < 0.4:
                other, label, kind = second.format(a=a, b=b), 1, "gen-paraphrase"
            else:
                other, label, kind = rng.choice([first, second]).format(a=b, b=a), 0, "gen-direction"
        base = base[0].upper() + base[1:]
        other = other[0].upper() + other[1:]
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind, "family": "relations", "split": "train"})
    return out


# ------------------------------------------------------ composed roles
# Training only (gen_pairs.generated, a generator of its own): who does what
# to whom, with verbs and kinds of actors the relations family does not use,
# so "A {verb} B" / "B {verb} A" is learned across verbs and actors, as the
# composed forms above did for directions. The active and passive voice with
# the roles kept are the positives.

ROLE_VERBS = [
    ("praise", "praised"), ("blame", "blamed"), ("follow", "followed"), ("pay", "paid"), ("invite", "invited"),
    ("interview", "interviewed"), ("rescue", "rescued"), ("chase", "chased"), ("trust", "trusted"),
    ("warn", "warned"), ("thank", "thanked"), ("recommend", "recommended"), ("coach", "coached"),
    ("supervise", "supervised"), ("evaluate", "evaluated"), ("report", "reported"), ("contact", "contacted"),
    ("email", "emailed"), ("promote", "promoted"), ("outvote", "outvoted"), ("overrule", "overruled"),
    ("protect", "protected"), ("hunt", "hunted"), ("feed", "fed"), ("refer", "referred"),
]
ROLE_ACTORS = [
    ["my boss", "my coworker", "my manager", "my client", "the landlord", "the tenant", "the teacher",
     "the student", "the doctor", "the nurse", "the seller", "the buyer", "the employer", "the recruiter",
     "the candidate", "the judge", "the lawyer", "the coach", "the referee", "the customer", "the vendor"],
    ["the cat", "the dog", "the fox", "the hawk", "the owl", "the snake", "the wolf", "the bear", "the eagle",
     "the shark", "the seal", "the lion", "the zebra", "the rabbit", "the mouse"],
    ["the Senate", "the House", "the President", "the Supreme Court", "the governor", "the mayor",
     "the city council", "the union", "the board", "the CEO", "the shareholders", "the regulator"],
]
ROLE_TEMPLATES = [
    ("Should {a} {v} {b}?", "Should {b} be {p} by {a}?"),
    ("Can {a} {v} {b}?", "Can {b} be {p} by {a}?"),
    ("Why would {a} {v} {b}?", "Why would {b} get {p} by {a}?"),
    ("Is it normal for {a} to {v} {b}?", "Is it normal for {b} to be {p} by {a}?"),
    ("What happens if {a} doesn't {v} {b}?", "What happens if {b} isn't {p} by {a}?"),
    ("How often should {a} {v} {b}?", "How often should {b} be {p} by {a}?"),
]


def composed_role_pairs(rng, n):
    """Training pairs: the passive voice with the roles kept (positive), the
    roles swapped in either voice (negative), another verb (negative)."""
    out = []
    while len(out) < n:
        a, b = rng.sample(rng.choice(ROLE_ACTORS), 2)
        v, p = rng.choice(ROLE_VERBS)
        active, passive = rng.choice(ROLE_TEMPLATES)
        base = active.format(a=a, b=b, v=v, p=p)
        roll = rng.random()
        if roll < 0.35:
            other, label, kind = passive.format(a=a, b=b, v=v, p=p), 1, "gen-paraphrase"
        elif roll < 0.85:
            other, label, kind = rng.choice([active, passive]).format(a=b, b=a, v=v, p=p), 0, "gen-role-swap"
        else:
            v2, p2 = rng.choice([x for x in ROLE_VERBS if x[0] != v])
            other, label, kind = active.format(a=a, b=b, v=v2, p=p2), 0, "gen-value"
        base, other = base[0].upper() + base[1:], other[0].upper() + other[1:]
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind, "family": "relations", "split": "train"})
    return out


# ------------------------------------------------------ composed qualifiers
# Training only (gen_pairs.generated, a generator of its own): one word that
# turns a question into another ("crispy" / "soft" cookies, "before" / "after"
# a run, "ascending" / "descending" order), composed from many qualifier pairs,
# objects and wordings, so the opposite qualifier is learned across forms rather
# than per family. The validation split's own qualifier families (pros and cons,
# prices going up or down, goals, rewrite styles, account and settings verbs)
# and their word pairs are left out. Each group: paraphrase templates over a
# qualifier {q} and an object {x}, the qualifier pairs, the objects. The
# objects are near neighbours (oven / microwave / dishwasher), so another
# object in another wording is a negative too.

QUALIFIER_GROUPS = [
    (["How do I make my {x} {q}?", "What's the trick to getting {q} {x}?", "Tips for {x} that come out {q}?",
      "How can I get my {x} to turn out {q}?"],
     [("crispy", "soft"), ("chewy", "crunchy"), ("fluffy", "dense"), ("thick", "thin"), ("moist", "crumbly")],
     ["cookies", "pancakes", "waffles", "brownies", "fries", "bread crust", "pizza crust", "roast potatoes"]),
    (["What's the best shampoo for {q} hair?", "Which shampoo should I use if my hair is {q}?",
      "Recommend a good shampoo for {q} hair.", "Shampoo suggestions for someone with {q} hair?"],
     [("oily", "dry"), ("curly", "straight"), ("thick", "fine"), ("colored", "natural")], [""]),
    (["Which {x} works for {q} skin?", "What {x} should I use on {q} skin?", "Best {x} for people with {q} skin?",
      "I have {q} skin. Which {x} is right for me?"],
     [("oily", "dry"), ("sensitive", "tough"), ("pale", "dark"), ("young", "aging")],
     ["moisturizer", "sunscreen", "face wash", "toner", "night cream", "foundation"]),
    (["Should I wash {x} in {q} water?", "Is {q} water better for washing {x}?", "Do you wash {x} with {q} water?",
      "Can I put {x} through a {q} wash?"],
     [("hot", "cold"), ("warm", "cold")],
     ["jeans", "wool sweaters", "white shirts", "towels", "bed sheets", "a down jacket", "silk blouses", "baby clothes"]),
    (["Is it better to {x} in the {q}?", "Should I {x} in the {q}?", "Is the {q} the best time to {x}?",
      "Does it help to {x} in the {q}?"],
     [("morning", "evening"), ("morning", "afternoon"), ("afternoon", "evening")],
     ["work out", "study", "water my plants", "take a shower", "drink coffee", "meditate", "go for a run",
      "mow the lawn", "post on Instagram", "send cold emails"]),
    (["Should I {x} {q} a run?", "Is it good to {x} {q} running?", "Do runners {x} {q} a run?",
      "Is it a good idea to {x} {q} I go running?"],
     [("before", "after")],
     ["stretch", "eat a banana", "drink coffee", "take a cold shower", "do yoga", "drink a protein shake",
      "take ibuprofen", "foam roll"]),
    (["How do I sort {x} in {q} order?", "Sort {x} in {q} order.", "What's the way to order {x} {q}?",
      "How can I get {x} sorted in {q} order?"],
     [("ascending", "descending"), ("alphabetical", "reverse alphabetical"), ("chronological", "reverse chronological")],
     ["a pandas DataFrame", "an Excel column", "SQL query results", "a JavaScript array", "a Python dictionary",
      "files in a folder", "my Gmail inbox", "a Google Sheets range"]),
    (["How do I scroll {q} in {x}?", "How can I scroll {q} in {x} using the keyboard?", "What's the shortcut to scroll {q} in {x}?",
      "Scrolling {q} in {x}: how?"],
     [("up", "down"), ("left", "right")], ["Vim", "a terminal", "Excel", "a PDF viewer", "tmux", "less"]),
    (["How do I zoom {q} in {x}?", "What's the shortcut to zoom {q} in {x}?", "How can I zoom {q} on {x}?",
      "Zooming {q} in {x}?"],
     [("in", "out")], ["Google Maps", "Photoshop", "Figma", "a browser", "Word", "Blender", "AutoCAD"]),
    (["Is a {q} {x} dangerous?", "Should I worry about a {q} {x}?", "What does a {q} {x} mean?",
      "When is a {q} {x} a problem?"],
     [("high", "low")],
     ["heart rate", "body temperature", "cholesterol level", "white blood cell count", "iron level",
      "resting pulse", "oxygen saturation", "potassium level", "thyroid level"]),
    (["What happens if you eat {q} {x}?", "Is it bad to eat {q} {x}?", "What are the effects of eating {q} {x}?",
      "Can eating {q} {x} hurt you?"],
     [("too much", "too little"), ("a lot of", "very little")],
     ["protein", "salt", "fiber", "sugar", "fat", "iron", "vitamin C", "carbs", "calcium"]),
    (["Is it safe to eat {q} {x}?", "Can you eat {x} {q}?", "Are {q} {x} safe to eat?", "Is eating {x} {q} OK?"],
     [("raw", "cooked"), ("raw", "undercooked"), ("raw", "boiled")],
     ["eggs", "chicken", "salmon", "kale", "potatoes", "mushrooms", "oysters", "shrimp", "oats", "spinach"]),
    (["Should I take {x} on {q}?", "Is it OK to take {x} on {q}?", "Can {x} be taken on {q}?",
      "Do I take {x} with {q}?"],
     [("an empty stomach", "a full stomach")],
     ["probiotics", "iron pills", "vitamin C", "a multivitamin", "antibiotics", "zinc", "fish oil", "thyroid medication"]),
    (["Can I keep a {x} {q}?", "Is it OK for a {x} to live {q}?", "Should my {x} stay {q}?",
      "Can a {x} be kept {q} all year?"],
     [("indoors", "outdoors")],
     ["rabbit", "tortoise", "fern", "lemon tree", "cactus", "guinea pig", "parrot", "orchid", "bonsai"]),
    (["How do I make {q} {x}?", "What's the best way to make {q} {x} at home?", "Recipe for {q} {x}?",
      "Teach me to make {q} {x}."],
     [("iced", "hot")], ["coffee", "tea", "chocolate", "matcha", "chai", "mocha"]),
    (["How do I install the {q} version of {x}?", "Where can I get the {q} version of {x}?",
      "How to download {x}'s {q} version?", "I need the {q} version of {x}. How do I install it?"],
     [("latest", "previous"), ("stable", "beta"), ("32-bit", "64-bit"), ("free", "paid")], APPS),
    (["Give me an {q} quiz about {x}.", "Make an {q} quiz on {x}.", "Can you write an {q} quiz about {x}?",
      "I want an {q} {x} quiz."],
     [("easy", "advanced"), ("easy", "expert-level")],
     ["world history", "chemistry", "geography", "the solar system", "Shakespeare", "algebra", "football",
      "Greek mythology"]),
    (["Recommend some {q} books about {x}.", "What are good {q} books on {x}?", "Suggest {q} reading about {x}.",
      "Any {q} books about {x} you'd recommend?"],
     [("fiction", "nonfiction"), ("short", "long"), ("beginner", "advanced"), ("old", "recent")],
     ["World War II", "the ocean", "artificial intelligence", "ancient Rome", "the stock market", "space", "grief"]),
    (["What is the average height of an adult {q} in {x}?", "How tall is the average {q} in {x}?",
      "Average {q} height in {x}?", "In {x}, how tall are {q}s on average?"],
     [("man", "woman")], ["Japan", "the Netherlands", "Brazil", "Nigeria", "the US", "India", "Sweden", "Mexico"]),
    (["How much should I feed a {q} {x}?", "How often do you feed a {q} {x}?", "What does a {q} {x} need to eat?",
      "Feeding a {q} {x}: how much?"],
     [("young", "senior"), ("pregnant", "male"), ("newborn", "grown")],
     ["dog", "cat", "rabbit", "horse", "goat", "parrot", "hamster"]),
    (["Do I need a visa for a {q} trip to {x}?", "Is a visa required for a {q} trip to {x}?",
      "What visa do I need to go to {x} on a {q} trip?", "Visa rules for a {q} trip to {x}?"],
     [("business", "tourist"), ("short", "long"), ("work", "study")], COUNTRIES),
    (["How do I file taxes as a {q}?", "What do I need to file my taxes as a {q}?", "Tax filing tips for a {q}?",
      "As a {q}, how do I do my taxes?"],
     [("freelancer", "salaried employee"), ("student", "retiree"), ("landlord", "tenant"), ("single parent", "married couple")],
     [""]),
    (["Why is my {x} running {q}?", "What makes a {x} run {q}?", "My {x} runs {q}. Why?", "How do I fix a {x} that runs {q}?"],
     [("hot", "cold"), ("fast", "slow"), ("loud", "quiet")],
     ["laptop", "fridge", "car engine", "PC fan", "dishwasher", "air conditioner", "washing machine"]),
    (["How do I write a {q} review of {x}?", "Help me write a {q} review for {x}.", "Write a {q} review of {x}.",
      "Could you draft a {q} review of {x}?"],
     [("glowing", "scathing"), ("detailed", "one-line"), ("five-star", "one-star")],
     ["a restaurant", "a hotel", "my dentist", "a car dealership", "a yoga studio", "a plumber", "an online course"]),
    (["What's the {q} way to get to {x}?", "Which is the {q} way to reach {x}?", "How do I get to {x} the {q} way?",
      "{q} way to travel to {x}?"],
     [("cheapest", "fastest"), ("fastest", "most scenic"), ("cheapest", "most comfortable")], CITIES),
    (["Is it {q} to pay off {x} early?", "Is paying off {x} early {q}?", "Would it be {q} to pay {x} off early?",
      "Paying {x} off ahead of schedule: {q}?"],
     [("smart", "a mistake"), ("legal", "illegal")],
     ["a mortgage", "a car loan", "student loans", "a credit card", "a personal loan"]),
    (["Should I use {q} paint in the {x}?", "Is {q} paint good for a {x}?", "Which is right for the {x}, {q} paint?",
      "Would {q} paint work in my {x}?"],
     [("glossy", "matte"), ("oil-based", "water-based"), ("light", "dark")],
     ["kitchen", "bathroom", "bedroom", "hallway", "nursery", "living room", "garage"]),
    (["How do I make {x} {q}?", "How can I make {x} {q}?", "Ways to make {x} {q}?", "Is there a way to make {x} {q}?"],
     [("bigger", "smaller"), ("louder", "quieter"), ("brighter", "dimmer"), ("faster", "slower")],
     ["the text on my screen", "my phone's ringtone", "the mouse pointer", "my monitor", "the taskbar icons",
      "my Bluetooth speaker"]),
]


# Near-neighbour nouns in several wordings: the same noun reworded is the same
# question, a close noun ("oven" / "microwave") reworded is another.
NOUN_GROUPS = [
    (["How do I clean my {x}?", "What's the best way to clean a {x}?", "Cleaning tips for a dirty {x}?",
      "How should I clean the {x}?"],
     [("", "")], ["oven", "microwave", "dishwasher", "stovetop", "fridge", "air fryer", "coffee maker", "kettle"]),
    (["How do I replace the {x} on my car?", "Can I change my car's {x} myself?", "Steps to swap the {x} on a car?",
      "What does it take to replace a car's {x}?"],
     [("", "")], ["battery", "brake pads", "air filter", "wiper blades", "headlight bulb", "spark plugs", "tires"]),
    (["How do I change my {x} on Instagram?", "Where do I edit my Instagram {x}?", "Instagram: how to update my {x}?",
      "Can I change the {x} on my Instagram profile?"],
     [("", "")], ["bio", "cover photo", "pronouns", "website link", "story highlights", "close friends list"]),
    (["What's the best way to learn the {x}?", "How should a beginner learn {x}?", "Tips for learning to play the {x}?",
      "I want to learn the {x}. Where do I start?"],
     [("", "")], ["guitar", "piano", "violin", "ukulele", "cello", "drums", "bass", "flute", "saxophone"]),
    (["How do I get rid of {x} in my house?", "What kills {x} at home?", "Help, I have {x} in my house. What do I do?",
      "Best way to remove {x} from a home?"],
     [("", "")], ["ants", "cockroaches", "mice", "fruit flies", "bed bugs", "termites", "silverfish", "moths"]),
    (["How do I treat a {x}?", "What should I do for a {x}?", "Home treatment for a {x}?",
      "How long does a {x} take to heal, and how do I treat it?"],
     [("", "")], ["sprained ankle", "sprained wrist", "broken toe", "pulled hamstring", "jammed finger",
                  "twisted knee", "bruised rib"]),
]


# More qualifier groups, training only and never development (full_tune.py
# --qualifier-share draws fresh pairs of these and the training QUALIFIER_GROUPS):
# opposite words the model has not seen as qualifiers, so that a swapped word it
# has never met is read as another question rather than as noise. None of
# their word pairs is a development group's (sort orders, raw/cooked, routes,
# bigger/smaller, …) or a validation-only family's (pros/cons, rewrite styles,
# up/down rates, on/off settings, account verbs, goals, units).
EXTRA_QUALIFIER_GROUPS = [
    (["What's a good {q} {x} recipe?", "Can you give me a recipe for a {q} {x}?", "How do I make a {q} {x}?",
      "I want to cook a {q} {x}. Any recipe?"],
     [("spicy", "mild"), ("sweet", "savory"), ("chilled", "warm"), ("creamy", "brothy")],
     ["soup", "curry", "salsa", "chili", "stir-fry", "noodle dish", "dipping sauce"]),
    (["When is the {q} train to {x}?", "What time does the {q} train to {x} leave?", "{q} train to {x}: what time?",
      "Can you tell me when the {q} train to {x} departs?"],
     [("first", "last"), ("earliest", "latest")], CITIES),
    (["Which {x} are best for {q} weather?", "What {x} should I buy for {q} weather?", "Recommend {x} for {q} weather.",
      "Good {x} for {q} weather?"],
     [("rainy", "snowy"), ("hot", "freezing"), ("windy", "still")],
     ["running shoes", "tires", "tents", "jackets", "gloves", "sleeping bags", "hiking boots"]),
    (["Should I buy a {q} {x}?", "Is it worth getting a {q} {x}?", "Is a {q} {x} a good buy?",
      "Would you recommend buying a {q} {x}?"],
     [("new", "used"), ("refurbished", "brand-new")],
     ["car", "iPhone", "laptop", "camera", "piano", "road bike", "washing machine", "lawn mower"]),
    (["Should I get a {q} {x}?", "Is a {q} {x} the better choice?", "Is a {q} {x} right for me?",
      "Does a {q} {x} make sense right now?"],
     [("fixed-rate", "variable-rate"), ("short-term", "long-term"), ("secured", "unsecured")],
     ["mortgage", "personal loan", "car loan", "business loan", "student loan"]),
    (["When do you use the {q} tense in {x}?", "How does the {q} tense work in {x}?", "Explain the {q} tense in {x}.",
      "How do I form the {q} tense in {x}?"],
     [("past", "future"), ("present", "past"), ("future", "present")],
     ["Spanish", "French", "German", "Italian", "Portuguese", "Russian", "Dutch"]),
    (["What are the best {x} for {q} people?", "Which {x} should a {q} person buy?", "Good {x} for someone {q}?",
      "Recommend {x} for {q} users."],
     [("left-handed", "right-handed")],
     ["scissors", "guitars", "computer mice", "golf clubs", "fountain pens", "baseball gloves", "can openers"]),
    (["How do I improve my {q} in {x}?", "Tips for a better {q} in {x}?", "How can I get a stronger {q} in {x}?",
      "My {q} in {x} is weak. How do I fix it?"],
     [("forehand", "backhand"), ("serve", "return"), ("offense", "defense")],
     ["tennis", "badminton", "table tennis", "squash", "pickleball"]),
    (["What can I plant in {x} in the {q}?", "Which plants go in {x} in the {q}?", "What grows well in {x} in the {q}?",
      "Best things to plant in {x} in the {q}?"],
     [("spring", "autumn"), ("summer", "winter"), ("early spring", "late summer")],
     ["my vegetable garden", "a shady yard", "raised beds", "pots on a balcony", "a greenhouse", "window boxes"]),
    (["How much is a {q} ticket to {x}?", "What does a {q} ticket to {x} cost?", "Price of a {q} ticket to {x}?",
      "How expensive is a {q} ticket to {x}?"],
     [("one-way", "round-trip"), ("economy", "business class"), ("adult", "child")], CITIES),
    (["How do I write a {q} function in {x}?", "Show me a {q} function in {x}.", "Example of a {q} function in {x}?",
      "How can I make a function {q} in {x}?"],
     [("synchronous", "asynchronous"), ("recursive", "iterative"), ("public", "private")],
     ["Python", "JavaScript", "Rust", "Go", "Java", "C#", "Kotlin"]),
    (["How do I make a {q} copy of {x}?", "How can I create a {q} copy of {x}?", "{q} copy of {x}: how?",
      "Is there a simple way to get a {q} copy of {x}?"],
     [("shallow", "deep")],
     ["a list in Python", "an object in JavaScript", "a dictionary", "an array in Java", "a struct in Go",
      "a HashMap in Rust"]),
    (["Do I need a {q} {x}?", "Is a {q} {x} required?", "Should I get a {q} {x}?", "Do you recommend a {q} {x}?"],
     [("waterproof", "water-resistant"), ("wired", "wireless"), ("manual", "automatic")],
     ["watch", "camera", "keyboard", "doorbell", "coffee grinder", "car", "toothbrush"]),
]


def _dev_group(group):
    """About one group in five is held out of training as a development set
    (gen_pairs writes it to dev.jsonl): candidates are compared there, on
    qualifier forms no stage has seen, before the validation split is read."""
    return zlib.crc32(group[0][0].encode()) % 5 == 0


def composed_qualifier_pairs(rng, n, split="train", extra=()):
    """Pairs of the composed qualifier and noun groups of `split` ("train" or
    "dev"): the same qualifier and object in two wordings (positive), the
    opposite qualifier in either wording (negative), another object of the
    group in another wording (negative). `extra` groups (training only) join
    the qualifier groups."""
    qualifier_groups = [g for g in QUALIFIER_GROUPS if _dev_group(g) == (split == "dev")]
    if extra:
        assert split == "train", "extra qualifier groups are training only"
        qualifier_groups += list(extra)
    noun_groups = [g for g in NOUN_GROUPS if _dev_group(g) == (split == "dev")]
    out = []
    while len(out) < n:
        templates, quals, objects = rng.choice(qualifier_groups if rng.random() < 0.75 else noun_groups)
        q, flip = rng.choice(quals)
        if rng.random() < 0.5:
            q, flip = flip, q
        x = rng.choice(objects)
        first, second = rng.sample(templates, 2)
        base = first.format(q=q, x=x)
        roll = rng.random()
        if roll < 0.4:
            other, label, kind = second.format(q=q, x=x), 1, "gen-paraphrase"
        elif (roll < 0.85 and q != flip) or len(objects) < 2:
            other, label, kind = rng.choice([first, second]).format(q=flip, x=x), 0, "gen-qualifier"
        else:
            x2 = rng.choice([o for o in objects if o != x])
            other, label, kind = second.format(q=q, x=x2), 0, "gen-value"
        base, other = base[0].upper() + base[1:], other[0].upper() + other[1:]
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind, "family": "qualifiers",
                    "split": split})
    return out


# ------------------------------------------------------ nominal roles
# Training (and dev: about one group in five, families._dev_group): who does
# what to whom said with a noun and a preposition as well as a verb ("What was
# A's warning to B?" / "What did A warn B about?" / "What was B warned about by
# A?"), so the roles are learned across verb, passive and noun forms. Verbs the
# relations family and the held-out families do not use. Same roles in two
# wordings: positive; the roles swapped in either wording: negative.

COMPANIES = RELATION_SIDES[2]
NATIONS = [c for c in COUNTRIES if c not in ("Scotland",)]
NOMINAL_ROLE_GROUPS = [
    (["How did {a} rescue {b}?", "What was {a}'s rescue of {b} like?", "How was {b} rescued by {a}?",
      "Tell me about the rescue of {b} by {a}."], ROLE_ACTORS[0] + ROLE_ACTORS[1]),
    (["How much did {a} pay {b}?", "What was the size of {a}'s payment to {b}?", "How much was {b} paid by {a}?",
      "What did {b} receive in payment from {a}?"], ROLE_ACTORS[0] + COMPANIES),
    (["What did {a} warn {b} about?", "What was {a}'s warning to {b}?", "What was {b} warned about by {a}?",
      "What warning did {b} get from {a}?"], ROLE_ACTORS[0] + ROLE_ACTORS[2]),
    (["Why did {a} complain about {b}?", "What was {a}'s complaint about {b}?", "What were {a}'s grievances with {b}?",
      "What made {a} file a complaint against {b}?"], ROLE_ACTORS[0]),
    (["Why did {a} apologize to {b}?", "What was {a}'s apology to {b} for?", "What did {a} say sorry to {b} for?",
      "Why did {b} get an apology from {a}?"], ROLE_ACTORS[0] + ROLE_ACTORS[2] + COMPANIES),
    (["Why did {a} threaten {b}?", "What were {a}'s threats against {b}?", "Why was {b} threatened by {a}?",
      "What did {a} threaten to do to {b}?"], NATIONS + ROLE_ACTORS[0]),
    (["How much did {a} lend {b}?", "How large was {a}'s loan to {b}?", "How much did {b} borrow from {a}?",
      "What was the amount {b} got as a loan from {a}?"], NATIONS + COMPANIES),
    (["Why did {a} sanction {b}?", "What were {a}'s sanctions against {b}?", "Why was {b} sanctioned by {a}?",
      "Why did {a} impose sanctions on {b}?"], NATIONS),
    (["What does {a} export to {b}?", "What are {a}'s main exports to {b}?", "What does {b} import from {a}?",
      "Which goods does {b} buy from {a}?"], NATIONS),
    (["How much does {a} owe {b}?", "How big is {a}'s debt to {b}?", "How much is {b} owed by {a}?",
      "How much money does {b} have coming from {a}?"], NATIONS + COMPANIES + ROLE_ACTORS[0]),
    (["How did {a} spy on {b}?", "What did {a}'s surveillance of {b} involve?", "How was {b} spied on by {a}?",
      "What methods did {a} use to spy on {b}?"], NATIONS + COMPANIES),
    (["Why did {a} vote against {b}?", "What was behind {a}'s vote against {b}?", "Why did {b} lose {a}'s vote?",
      "Why did {a} cast a vote against {b}?"], ROLE_ACTORS[2] + ROLE_ACTORS[0]),
    (["What does {a} supply to {b}?", "What are {a}'s deliveries to {b}?", "What does {b} get from {a} as a supplier?",
      "Which parts does {b} source from {a}?"], COMPANIES),
    (["Why did {a} forgive {b}?", "What led to {a}'s forgiveness of {b}?", "Why was {b} forgiven by {a}?",
      "What made {a} decide to forgive {b}?"], ROLE_ACTORS[0] + PEOPLE),
]


def nominal_role_pairs(rng, n, split="train"):
    groups = [g for g in NOMINAL_ROLE_GROUPS if _dev_group(g) == (split == "dev")]
    out = []
    while len(out) < n:
        templates, pool = rng.choice(groups)
        a, b = rng.sample(pool, 2)
        first, second = rng.sample(templates, 2)
        base = first.format(a=a, b=b)
        if rng.random() < 0.4:
            other, label, kind = second.format(a=a, b=b), 1, "gen-paraphrase"
        else:
            other, label, kind = rng.choice([first, second]).format(a=b, b=a), 0, "gen-role-swap"
        base, other = base[0].upper() + base[1:], other[0].upper() + other[1:]
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind,
                    "family": "relations" if split == "train" else "nominal_roles", "split": split})
    return out


# ------------------------------------------------------ opposite changes
# Training (and dev: about one group in five, families._dev_group): opposite
# changes and actions said in several tenses and carriers ("Why did X surge
# this week?" / "X plunged this week. What happened?" / "What's behind X
# sliding this week?"), so an opposite verb is a different question whatever
# form the sentence takes. Each verb as (base, -ing, past). None of the
# held-out families' verbs, subjects or templates (the validation `rate`
# family's go up/down, rise/fall, increase/drop on currencies and metals).

CHANGE_GROUPS = [
    (["Why did {s} {v} this week?", "What caused {s} to {v} this week?", "{S} {ved} this week. What happened?",
      "What's behind {s} {ving} this week?"],
     [(("surge", "surging", "surged"), ("plunge", "plunging", "plunged")),
      (("climb", "climbing", "climbed"), ("slide", "sliding", "slid")),
      (("jump", "jumping", "jumped"), ("tumble", "tumbling", "tumbled")),
      (("rebound", "rebounding", "rebounded"), ("slump", "slumping", "slumped")),
      (("strengthen", "strengthening", "strengthened"), ("weaken", "weakening", "weakened"))],
     ["the Nasdaq", "Nvidia shares", "mortgage rates", "natural gas prices", "the British pound", "copper prices",
      "Dogecoin", "the Swiss franc", "airline stocks", "housing prices in Toronto"]),
    (["Why does {s} {v} so quickly?", "What makes {s} {v} so fast?", "{S} {ved} really quickly today, why?",
      "Why is {s} {ving} so fast?"],
     [(("heat up", "heating up", "heated up"), ("cool down", "cooling down", "cooled down")),
      (("speed up", "speeding up", "sped up"), ("slow down", "slowing down", "slowed down")),
      (("charge", "charging", "charged"), ("drain", "draining", "drained"))],
     ["my laptop", "my phone", "my iPad", "my gaming PC", "my smartwatch", "my Chromebook", "my e-bike battery"]),
    (["Is it normal for {s} to {v} after a workout?", "What makes {s} {v} after exercise?",
      "{S} {ved} after my workout. Why?", "Why would {s} keep {ving} after exercising?"],
     [(("spike", "spiking", "spiked"), ("crash", "crashing", "crashed")),
      (("climb", "climbing", "climbed"), ("dip", "dipping", "dipped")),
      (("shoot up", "shooting up", "shot up"), ("plummet", "plummeting", "plummeted"))],
     ["my blood sugar", "my blood pressure", "my heart rate", "my body temperature", "my cortisol"]),
    (["What made {s} {v} over the past decade?", "Why did {s} {v} in the last ten years?",
      "{S} {ved} over the past decade. Why?", "What explains {s} {ving} over the past decade?"],
     [(("grow", "growing", "grew"), ("shrink", "shrinking", "shrank")),
      (("expand", "expanding", "expanded"), ("contract", "contracting", "contracted")),
      (("recover", "recovering", "recovered"), ("decline", "declining", "declined"))],
     ["bee populations", "Arctic sea ice", "the Amazon rainforest", "coral reefs", "wolf numbers in Yellowstone",
      "the Great Salt Lake", "Lake Mead", "salmon runs in Alaska"]),
    (["How do I {v} in {s}?", "What's the shortcut to {v} in {s}?", "I can't figure out how to {v} in {s}.",
      "Keyboard shortcut for {ving} in {s}?"],
     [(("zoom in", "zooming in", "zoomed in"), ("zoom out", "zooming out", "zoomed out")),
      (("scroll up", "scrolling up", "scrolled up"), ("scroll down", "scrolling down", "scrolled down")),
      (("indent", "indenting", "indented"), ("outdent", "outdenting", "outdented"))],
     ["Google Maps", "a PDF in Acrobat", "Photoshop", "an Excel sheet", "Figma", "Google Docs"]),
    (["How do I {v} {s}?", "What's the right way to {v} {s}?", "Best tool for {ving} {s}?",
      "I need to {v} {s}. How?"],
     [(("tighten", "tightening", "tightened"), ("loosen", "loosening", "loosened"))],
     ["a bike chain", "guitar strings", "a lug nut", "a watch strap", "a faucet handle", "a drum head",
      "a ratchet strap", "a stripped screw"]),
    (["What's the safest way to {v} {s}?", "How should I {v} {s}?", "Tips for {ving} {s} safely?",
      "Is there a right way to {v} {s}?"],
     [(("thaw", "thawing", "thawed"), ("freeze", "freezing", "froze")),
      (("reheat", "reheating", "reheated"), ("chill", "chilling", "chilled"))],
     ["chicken breasts", "ground beef", "bread", "salmon fillets", "breast milk", "cooked rice", "soup"]),
    (["How do I {v} {s}?", "Steps to {v} {s}?", "What's the quickest way to {v} {s}?", "I want to {v} {s}."],
     [(("mute", "muting", "muted"), ("unmute", "unmuting", "unmuted")),
      (("pin", "pinning", "pinned"), ("unpin", "unpinning", "unpinned")),
      (("archive", "archiving", "archived"), ("unarchive", "unarchiving", "unarchived"))],
     ["a Slack channel", "a WhatsApp group chat", "a Discord server", "a Teams chat", "a Telegram channel"]),
    (["How can I {v} {s}?", "Ways to {v} {s}?", "What's the easiest way to {v} {s}?",
      "I'd like to {v} {s}. What should I do?"],
     [(("raise", "raising", "raised"), ("lower", "lowering", "lowered")),
      (("widen", "widening", "widened"), ("narrow", "narrowing", "narrowed"))],
     ["the pH of my pool", "my car's suspension", "the water pressure in my shower", "the action on my guitar",
      "the margins in my Word document", "the ride height of my mountain bike"]),
]


def change_pairs(rng, n, split="train", groups=CHANGE_GROUPS):
    """Pairs of the opposite-change groups of `split`: the same change of the
    same subject in two wordings (positive), the opposite change in either
    wording (negative), another subject of the group (negative)."""
    groups = [g for g in groups if _dev_group(g) == (split == "dev")]
    out = []
    while len(out) < n:
        templates, verbs, subjects = rng.choice(groups)
        v, flip = rng.choice(verbs)
        if rng.random() < 0.5:
            v, flip = flip, v
        s = rng.choice(subjects)
        first, second = rng.sample(templates, 2)

        def render(template, verb, subject):
            text = template.format(s=subject, S=subject, v=verb[0], ving=verb[1], ved=verb[2])
            return text[0].upper() + text[1:]

        base = render(first, v, s)
        roll = rng.random()
        if roll < 0.4:
            other, label, kind = render(second, v, s), 1, "gen-paraphrase"
        elif roll < 0.85:
            other, label, kind = render(rng.choice([first, second]), flip, s), 0, "gen-change"
        else:
            s2 = rng.choice([o for o in subjects if o != s])
            other, label, kind = render(second, v, s2), 0, "gen-value"
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind, "family": "qualifiers",
                    "split": split})
    return out


# More opposite verbs, each with subjects of its own kind (a second list, drawn
# by a generator of its own, so the pairs drawn from CHANGE_GROUPS stay as they
# were). None of the development groups' verbs (grow/shrink, expand/contract,
# recover/decline, raise/lower, widen/narrow) so dev.jsonl still measures
# unseen ones; none of the held-out families' word pairs (go up/down, rise/fall,
# increase/drop, lose/gain weight, pros/cons).

def _v(base, ing, past):
    return (base, ing, past)


OPPOSITE_GROUPS = [
    (["Why did {s} {v} last year?", "What caused {s} to {v} last year?", "{S} {ved} last year. What explains it?",
      "Reasons for {s} {ving} last year?"],
     [(_v("improve", "improving", "improved"), _v("worsen", "worsening", "worsened")),
      (_v("accelerate", "accelerating", "accelerated"), _v("slow", "slowing", "slowed")),
      (_v("double", "doubling", "doubled"), _v("halve", "halving", "halved")),
      (_v("soar", "soaring", "soared"), _v("crash", "crashing", "crashed")),
      (_v("peak", "peaking", "peaked"), _v("bottom out", "bottoming out", "bottomed out"))],
     ["unemployment in Spain", "inflation in Turkey", "the birth rate in South Korea", "Netflix's subscriber count",
      "crime in New York", "US home sales", "my website traffic", "air quality in Delhi", "wheat exports",
      "the price of eggs"]),
    (["Why did {s} {v} the championship last season?", "{S} {ved} the championship last season. How?",
      "What led to {s} {ving} the championship last season?", "Explain how {s} came to {v} the championship last season."],
     [(_v("win", "winning", "won"), _v("lose", "losing", "lost")),
      (_v("clinch", "clinching", "clinched"), _v("throw away", "throwing away", "threw away"))],
     ["the Lakers", "Manchester United", "the New York Yankees", "Real Madrid", "the Chicago Bulls", "Ferrari",
      "the Golden State Warriors", "Bayern Munich"]),
    (["Why did {s} {v} the proposal?", "What made {s} {v} the proposal?", "{S} {ved} the proposal. Why?",
      "What was the reason for {s} {ving} the proposal?"],
     [(_v("accept", "accepting", "accepted"), _v("reject", "rejecting", "rejected")),
      (_v("approve", "approving", "approved"), _v("veto", "vetoing", "vetoed")),
      (_v("back", "backing", "backed"), _v("block", "blocking", "blocked"))],
     ["the Senate", "the city council", "the EU", "the board of directors", "the union", "the Supreme Court",
      "the shareholders", "the school board"]),
    (["Why did {s} {v} so many workers in 2023?", "What led {s} to {v} thousands of workers in 2023?",
      "{S} {ved} a lot of staff in 2023. Why?", "Reasons behind {s} {ving} so many employees in 2023?"],
     [(_v("hire", "hiring", "hired"), _v("lay off", "laying off", "laid off"))],
     ["Google", "Meta", "Amazon", "Tesla", "Salesforce", "Twitter", "IBM", "Intel", "Spotify"]),
    (["At what temperature does {s} {v}?", "What temperature makes {s} {v}?",
      "How warm or cold must it be for {s} to {v}?", "When does {s} start {ving}?"],
     [(_v("melt", "melting", "melted"), _v("freeze", "freezing", "froze")),
      (_v("melt", "melting", "melted"), _v("harden", "hardening", "hardened"))],
     ["chocolate", "butter", "wax", "ice cream", "coconut oil", "olive oil", "honey", "gelatin"]),
    (["How do I {v} {s}?", "Best way to {v} {s}?", "What do I need to {v} {s}?", "Tips for {ving} {s}?"],
     [(_v("inflate", "inflating", "inflated"), _v("deflate", "deflating", "deflated"))],
     ["a car tire", "a bike tire", "an air mattress", "a pool float", "a basketball", "a bouncy castle",
      "a paddle board"]),
    (["Why do I {v} {s} so easily?", "What makes people {v} {s} so easily?", "How come I {v} {s} so quickly?",
      "Why is {ving} {s} so easy for me?"],
     [(_v("remember", "remembering", "remembered"), _v("forget", "forgetting", "forgot"))],
     ["names", "dreams", "passwords", "phone numbers", "birthdays", "things I read", "vocabulary words", "faces"]),
    (["Should I {v} {s}?", "Is it worth {ving} {s}?", "Good reasons to {v} {s}?",
      "I'm thinking about {ving} {s}. Good idea?"],
     [(_v("join", "joining", "joined"), _v("quit", "quitting", "quit")),
      (_v("join", "joining", "joined"), _v("leave", "leaving", "left"))],
     ["a gym", "a union", "a book club", "the army", "a startup", "a fraternity", "a coworking space",
      "a choir"]),
    (["Is now a good time to {v} {s}?", "Should I {v} {s} right now?", "Is this the right moment for {ving} {s}?",
      "Would {ving} {s} now be smart?"],
     [(_v("buy", "buying", "bought"), _v("sell", "selling", "sold"))],
     ["a rental property", "a used car", "my house", "a timeshare", "a vacation home", "vintage watches",
      "a food truck", "farmland"]),
    (["What happens to your body when you {v} {s}?", "Effects of {ving} {s}?", "What changes if I {v} {s}?",
      "How does {ving} {s} affect you?"],
     [(_v("start", "starting", "started"), _v("quit", "quitting", "quit")),
      (_v("take up", "taking up", "took up"), _v("give up", "giving up", "gave up"))],
     ["drinking coffee", "eating sugar", "taking creatine", "vaping", "running every day", "intermittent fasting",
      "taking melatonin", "drinking alcohol"]),
    (["How do I {v} {s}?", "Shortcut to {v} {s}?", "What's the setting to {v} {s}?", "How can I quickly {v} {s}?"],
     [(_v("brighten", "brightening", "brightened"), _v("dim", "dimming", "dimmed"))],
     ["my screen", "my phone's display", "the lights in Home Assistant", "my monitor", "my Kindle",
      "the keyboard backlight on my MacBook", "Philips Hue bulbs"]),
    (["How do I {v} {s}?", "Where is the setting to {v} {s}?", "Steps for {ving} {s}?", "I want to {v} {s}. How?"],
     [(_v("allow", "allowing", "allowed"), _v("block", "blocking", "blocked"))],
     ["pop-ups in Chrome", "cookies in Safari", "notifications on my iPhone", "camera access in Zoom",
      "third-party apps on my Mac", "unknown callers on Android", "location access in Google Maps"]),
    (["Why is {s} {ving}?", "What is causing {s} to {v}?", "Reasons {s} is {ving}?",
      "Explain why {s} has {ved} in recent decades."],
     [(_v("warm", "warming", "warmed"), _v("cool", "cooling", "cooled"))],
     ["the North Atlantic", "the upper atmosphere", "Antarctica", "the Gulf Stream", "northern Europe",
      "the Mediterranean Sea", "the deep ocean"]),
    (["Why did {s} {v} the treaty?", "What led {s} to {v} the treaty?", "{S} {ved} the treaty. Why?",
      "What was behind {s} {ving} the treaty?"],
     [(_v("sign", "signing", "signed"), _v("withdraw from", "withdrawing from", "withdrew from")),
      (_v("ratify", "ratifying", "ratified"), _v("abandon", "abandoning", "abandoned"))],
     ["the United States", "Russia", "Iran", "North Korea", "Brazil", "Japan", "Turkey", "Australia"]),
]


# ------------------------------------------------------ voice and roles
# Training only (gen_pairs, a generator of its own): who does what to whom,
# across voices and tenses. Every adapter up to stop 27 scored an active
# question and its passive ("Did A outbid B?" / "Was B outbid by A?") about
# 0.6, the share of positives among voice-changed training pairs, on training
# and validation pairs alike: it had learned "the voice changed", not whose
# role is whose. Here each template is a set of forms that ask the same thing
# (active, passive, get-passive, a statement and a why), so a positive is two
# forms with the roles kept and a negative the roles swapped in any form —
# including the passive of the swap, which keeps the names in their order
# ("Did A outbid B?" / "Was A outbid by B?"). Many verbs and actor kinds, none
# of the relation verbs or sides used by the validation split's families; one
# verb in five and one actor kind are held out into dev.jsonl.

def _vb(base, past, participle=None):
    return base, past, participle or past


VOICE_VERBS = [
    _vb("admire", "admired"), _vb("advise", "advised"), _vb("applaud", "applauded"), _vb("arrest", "arrested"),
    _vb("assist", "assisted"), _vb("audit", "audited"), _vb("bite", "bit", "bitten"), _vb("bribe", "bribed"),
    _vb("brief", "briefed"), _vb("bully", "bullied"), _vb("call", "called"), _vb("capture", "captured"),
    _vb("catch", "caught"), _vb("challenge", "challenged"), _vb("cheat", "cheated"), _vb("comfort", "comforted"),
    _vb("congratulate", "congratulated"), _vb("consult", "consulted"), _vb("convince", "convinced"),
    _vb("deceive", "deceived"), _vb("defend", "defended"), _vb("disturb", "disturbed"), _vb("draft", "drafted"),
    _vb("encourage", "encouraged"), _vb("examine", "examined"), _vb("fine", "fined"), _vb("fool", "fooled"),
    _vb("forgive", "forgave", "forgiven"), _vb("frighten", "frightened"), _vb("greet", "greeted"),
    _vb("guide", "guided"), _vb("harass", "harassed"), _vb("help", "helped"), _vb("hit", "hit"),
    _vb("ignore", "ignored"), _vb("impress", "impressed"), _vb("insult", "insulted"), _vb("interrupt", "interrupted"),
    _vb("investigate", "investigated"), _vb("judge", "judged"), _vb("kick", "kicked"), _vb("lead", "led"),
    _vb("mock", "mocked"), _vb("motivate", "motivated"), _vb("nominate", "nominated"), _vb("obey", "obeyed"),
    _vb("offend", "offended"), _vb("oppose", "opposed"), _vb("outbid", "outbid"), _vb("outrank", "outranked"),
    _vb("outplay", "outplayed"), _vb("outscore", "outscored"), _vb("persuade", "persuaded"),
    _vb("photograph", "photographed"), _vb("prosecute", "prosecuted"), _vb("provoke", "provoked"),
    _vb("punish", "punished"), _vb("push", "pushed"), _vb("question", "questioned"), _vb("recruit", "recruited"),
    _vb("reject", "rejected"), _vb("remind", "reminded"), _vb("represent", "represented"),
    _vb("respect", "respected"), _vb("reward", "rewarded"), _vb("rob", "robbed"), _vb("save", "saved"),
    _vb("scare", "scared"), _vb("scold", "scolded"), _vb("see", "saw", "seen"), _vb("serve", "served"),
    _vb("shoot", "shot"), _vb("stop", "stopped"), _vb("support", "supported"), _vb("surprise", "surprised"),
    _vb("tease", "teased"), _vb("threaten", "threatened"), _vb("track", "tracked"), _vb("train", "trained"),
    _vb("trick", "tricked"), _vb("underestimate", "underestimated"), _vb("wake", "woke", "woken"),
    _vb("watch", "watched"), _vb("welcome", "welcomed"), _vb("outsmart", "outsmarted"), _vb("sting", "stung"),
    _vb("overhear", "overheard"), _vb("outrun", "outran", "outrun"), _vb("kiss", "kissed"), _vb("hug", "hugged"),
    _vb("scratch", "scratched"), _vb("accuse", "accused"), _vb("blackmail", "blackmailed"),
    _vb("outlast", "outlasted"), _vb("eliminate", "eliminated"), _vb("knock out", "knocked out"),
    _vb("tackle", "tackled"), _vb("foul", "fouled"), _vb("block", "blocked"), _vb("overtake", "overtook", "overtaken"),
]
VOICE_VERBS = [v for v in VOICE_VERBS if v[0] != "overtake"]  # a relation verb of the validation split

VOICE_ACTORS = [
    ["my neighbor", "my sister", "my brother", "my roommate", "my cousin", "my uncle", "my grandmother",
     "my best friend", "my girlfriend", "my husband", "my son", "my daughter", "my ex"],
    ["the pilot", "the captain", "the sergeant", "the detective", "the suspect", "the witness", "the reporter",
     "the senator", "the sheriff", "the prisoner", "the guard", "the principal", "the janitor", "the chef"],
    ["Alice", "Bob", "Maria", "Kenji", "Priya", "Omar", "Lena", "Diego", "Sofia", "Tom", "Aisha", "Marco"],
    ["the goalkeeper", "the striker", "the defender", "the pitcher", "the batter", "the quarterback",
     "the boxer", "the champion", "the challenger", "the rookie", "the veteran", "the underdog"],
    ["the crow", "the squirrel", "the cobra", "the mongoose", "the spider", "the wasp", "the raccoon",
     "the puppy", "the kitten", "the goose", "the badger", "the lizard"],
    ["Siemens", "Philips", "Cisco", "Dell", "Lenovo", "Spotify", "Shopify", "Zoom", "Slack", "Reddit",
     "Pinterest", "Dropbox"],
]

VOICE_TEMPLATES = [
    ["Did {a} {v} {b}?", "Was {b} {p} by {a}?", "Did {b} get {p} by {a}?"],
    ["Why did {a} {v} {b}?", "Why was {b} {p} by {a}?", "Why did {b} get {p} by {a}?", "{A} {past} {b}. Why?",
     "What made {a} {v} {b}?"],
    ["When did {a} first {v} {b}?", "When was {b} first {p} by {a}?", "When did {b} first get {p} by {a}?"],
    ["Has {a} ever {p} {b}?", "Has {b} ever been {p} by {a}?"],
    ["Will {a} {v} {b}?", "Will {b} be {p} by {a}?", "Is {a} going to {v} {b}?", "Is {b} going to be {p} by {a}?"],
    ["Why does {a} always {v} {b}?", "Why is {b} always {p} by {a}?", "Why does {b} always get {p} by {a}?"],
    ["Is it true that {a} {past} {b}?", "Is it true that {b} was {p} by {a}?", "Did {a} really {v} {b}?"],
    ["How did {a} {v} {b}?", "How was {b} {p} by {a}?", "In what way did {a} {v} {b}?"],
    ["What happened when {a} {past} {b}?", "What happened when {b} was {p} by {a}?",
     "What happened after {b} got {p} by {a}?"],
    ["Could {a} {v} {b}?", "Could {b} be {p} by {a}?", "Is it possible for {a} to {v} {b}?",
     "Is it possible for {b} to be {p} by {a}?"],
    ["How often does {a} {v} {b}?", "How often is {b} {p} by {a}?", "How often does {b} get {p} by {a}?"],
    ["Who saw {a} {v} {b}?", "Who saw {b} get {p} by {a}?"],
]


def _voice_dev(verb):
    return zlib.crc32(verb[0].encode()) % 5 == 0


def voice_pairs(rng, n, split="train"):
    """Pairs of `split` ("train" or "dev"): two forms of one template with the
    roles kept (positive), the roles swapped in any form (negative), another
    verb (negative)."""
    verbs = [v for v in VOICE_VERBS if _voice_dev(v) == (split == "dev")]
    actors = VOICE_ACTORS[:-1] if split == "train" else VOICE_ACTORS[-1:]
    out = []
    while len(out) < n:
        a, b = rng.sample(rng.choice(actors), 2)
        verb = rng.choice(verbs)
        forms = rng.choice(VOICE_TEMPLATES)
        first, second = rng.sample(forms, 2)

        def render(template, x, y, vb):
            text = template.format(a=x, A=x, b=y, v=vb[0], past=vb[1], p=vb[2])
            return text[0].upper() + text[1:]

        base = render(first, a, b, verb)
        roll = rng.random()
        if roll < 0.45:
            other, label, kind = render(second, a, b, verb), 1, "gen-paraphrase"
        elif roll < 0.9:
            # The swap in the other form half the time (the names keep their order).
            other, label, kind = render(second if rng.random() < 0.5 else first, b, a, verb), 0, "gen-role-swap"
        else:
            verb2 = rng.choice([v for v in verbs if v != verb])
            other, label, kind = render(second, a, b, verb2), 0, "gen-value"
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind if split == "train" else f"dev-voice-{kind[4:]}",
                    "family": "relations", "split": split})
    return out


# ------------------------------------------------------ near-neighbour nouns
# Used by full_tune.py (--noun-share), beside the voice pairs: one question
# frame, one noun slot, asked in two wordings ("How do I reset my voicemail
# PIN?" / "how can I reset my door code"). The same noun (or a synonym of it)
# in another wording is the same question; another noun of the group in
# another wording, with the verb and the tail kept, is another question. The
# voice stages taught the model to read across wordings, and with that it
# began to let near-neighbour nouns through when the wording changed too; these
# pairs put that back. About one group in five is held out as the development
# set (dev.jsonl, kinds dev-noun-*); the training groups share no value with the
# validation-only families account_item and settings_item (near_noun_pairs
# checks): the sign-in group, which has "password", is a development group.

NEAR_NOUN_FRAMES = [
    "How do I {v} my {x}{c}?", "how can I {v} my {x}{c}", "How can I {v} my {x}{c}?",
    "What are the steps to {v} my {x}{c}?", "I need to {v} my {x}{c}. How?", "Is there a way to {v} my {x}{c}?",
    "Can you tell me how to {v} my {x}{c}?", "how to {v} my {x}{c}", "Please explain how I can {v} my {x}{c}.",
    "What's the easiest way to {v} my {x}{c}?", "how do i {v} my {x}{c}", "Help me {v} my {x}{c}.",
]

# (verbs, nouns, tails): a noun given as a tuple is one thing under several
# names (any two of them make a positive).
NEAR_NOUN_GROUPS = [
    (["renew", "replace", "cancel"],
     ["passport", ("driver's license", "driving licence"), ("ID card", "identity card"), "residence permit",
      "work visa", "vehicle registration", "library card", "health insurance card"],
     ["", " online", " from abroad"]),
    (["reset", "change", "rotate", "revoke"],
     ["API key", "access token", "SSH key", "webhook secret", "client secret", "deploy key", "signing certificate"],
     ["", " on project {n}", " in the dashboard"]),
    (["update", "view", "download", "delete"],
     ["invoice address", "VAT number", ("purchase history", "order history"), "saved cards", "loyalty points",
      "gift card balance", "store credit", "wish list"],
     ["", " on account {n}", " in the app"]),
    (["turn off", "reset", "review"],
     ["login alerts", "trusted devices", "session history", "app passwords", "connected apps", "search history",
      "browsing data"],
     ["", " on account {n}", " in my profile"]),
    (["fix", "replace", "clean"],
     ["phone screen", "charging port", "phone camera", "phone speaker", "SIM tray", "back glass", "earpiece"],
     ["", " myself", " at home"]),
    (["upgrade", "replace", "test"],
     ["graphics card", "power supply", "hard drive", ("RAM", "memory"), "CPU cooler", "motherboard",
      ("SSD", "solid state drive"), "network card"],
     ["", " in my PC", " on my gaming rig"]),
    (["lower", "check", "track"],
     ["blood pressure", "cholesterol", ("blood sugar", "blood glucose"), "resting heart rate", "body fat",
      "triglycerides", "uric acid"],
     ["", " at home"]),
    (["transfer", "close", "freeze", "open"],
     ["savings account", ("checking account", "current account"), "brokerage account", "retirement account",
      "joint account", "business account", "student account"],
     ["", " online", " at my bank"]),
    (["reset", "update", "pair"],
     ["thermostat", "smoke detector", "doorbell camera", "garage door opener", "smart lock", "water heater",
      "robot vacuum", "security alarm"],
     ["", " after a power outage", " from my phone"]),
    (["change", "track", "cancel"],
     ["delivery address", "delivery date", "return label", "refund", "exchange", "pickup time"],
     ["", " for order {n}", " on order {n}"]),
    (["update", "cancel", "pause"],
     ["gym membership", "meal kit plan", "streaming plan", ("phone plan", "mobile plan"), "internet plan",
      "car insurance", "renters insurance", "newspaper subscription"],
     ["", " online", " before it renews"]),
    (["recover", "back up", "delete"],
     [("photos", "pictures"), "contacts", ("text messages", "SMS messages"), "voicemails", "calendar", "notes",
      "call log", "WhatsApp chats"],
     ["", " on my phone", " on my new phone"]),
    (["change", "lock", "customize"],
     ["home screen layout", "wallpaper", "ringtone", "keyboard language", "default browser", "lock screen widgets",
      "app icons"],
     ["", " on my phone", " on my tablet"]),
    (["reset", "change", "unlock"],
     ["voicemail PIN", ("Wi-Fi key", "Wi-Fi passphrase"), "router admin login", "SIM PUK code", "BIOS passcode",
      "disk encryption passphrase", "door code", "safe combination"],
     ["", " if I forgot it", " at home"]),
    # Sign-in items beside "password" (a development group, see _noun_dev: "password" is also an
    # account_item value); none of the chaos run's other nouns (username, email address, billing details).
    (["reset", "change", "verify", "recover"],
     ["password", ("login name", "user ID"), "PIN", "passkey", "security key", "recovery phone", "login email",
      "account number", "member ID", ("screen name", "handle")],
     ["", " on account {n}", " on my work account"]),
    (["book", "reschedule", "cancel"],
     ["dentist appointment", "eye exam", "vaccination", "blood test", "physio session", "haircut",
      "car service"],
     ["", " online", " for next week"]),
    (["claim", "appeal", "pay"],
     ["parking ticket", "speeding fine", "property tax", "water bill", "council tax", "toll charge",
      "tax refund"],
     ["", " online", " on reference {n}"]),
]


# Training only, with full_tune.py --extra-nouns (stop 31; the shipped runs did
# not use it): sign-in items of game consoles and stores, training's nearest kin
# of the sign-in development group.
EXTRA_NEAR_NOUN_GROUPS = [
    (["reset", "change", "verify", "recover"],
     [("gamertag", "gamer tag"), "console passcode", "parental control PIN", "Steam Guard code", "friend code",
      "linked email", "store region", "online ID"],
     ["", " on my Xbox", " on account {n}"]),
]


def _noun_dev(group):
    first = group[1][0]
    return zlib.crc32((first if isinstance(first, str) else first[0]).encode()) % 5 == 0


def near_noun_pairs(rng, n, split="train", extra=()):
    """Pairs of `split` ("train" or "dev"): the same noun (or a synonym) in two
    wordings (positive); another noun of the group, the verb and tail kept, in
    the other wording or the same one (negative). `extra` groups (training
    only) join the training groups."""
    groups = [g for g in NEAR_NOUN_GROUPS if _noun_dev(g) == (split == "dev")]
    if extra:
        assert split == "train", "extra noun groups are training only"
        groups += list(extra)
    if split == "train":
        held = {str(v).lower() for f in FAMILIES if f["name"] in ("account_item", "settings_item")
                for vals in f["slots"].values() for v in vals if isinstance(v, str)}
        shared = {name for g in groups for entry in g[1] for name in ((entry,) if isinstance(entry, str) else entry)
                  if name.lower() in held}
        if shared:
            raise ValueError(f"near-noun training groups share validation-only values: {sorted(shared)}")
    out = []
    while len(out) < n:
        verbs, nouns, tails = rng.choice(groups)
        v = rng.choice(verbs)
        tail = rng.choice(tails).replace("{n}", str(rng.randrange(2, 9999)))
        entry = rng.choice(nouns)
        names = (entry,) if isinstance(entry, str) else entry
        first, second = rng.sample(NEAR_NOUN_FRAMES, 2)
        x = rng.choice(names)

        def render(frame, noun):
            text = frame.format(v=v, x=noun, c=tail)
            return text[0].upper() + text[1:] if frame[0].isupper() else text

        base = render(first, x)
        if rng.random() < 0.4:
            other, label, kind = render(second, rng.choice(names)), 1, "paraphrase"
        else:
            pick = rng.choice([m for m in nouns if m is not entry])
            pick = pick if isinstance(pick, str) else rng.choice(pick)
            other, label, kind = render(second if rng.random() < 0.75 else first, pick), 0, "value"
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label,
                    "kind": f"gen-{kind}" if split == "train" else f"dev-noun-{kind}",
                    "family": "nouns", "split": split})
    return out


# ------------------------------------------------------ marker order
# Used by full_tune.py (--order-share), beside the voice pairs: which place is
# the source and which the destination, whatever the order the words come in.
# Every adapter up to stop 35 scored "How long is the train ride from A to B?"
# / "… to B from A" about like the swap "… to A from B" (0.4–0.7 on training
# pairs alike): it had learnt "the from/to order changed", not which place each
# marker governs — the plateau the voice pairs showed for whose role is whose.
# Each frame is a set of forms that ask the same thing, some with "from" first,
# some with "to" (or "into", "onto", a fronted "From A, …"); a positive is two
# forms with the places kept, a negative the places swapped in either form —
# including the other form's swap, which keeps the names in their order and
# moves only the markers ("from A to B" / "to A from B"). The last frame of
# each domain and its dev values are held out into dev_order.jsonl (kinds
# dev-order-*), so the development figures read unseen wordings and places.
# None of the validation split's direction templates (train routes, shipping,
# money transfers, redirects, flights, visas, translations) is used here.
# Stop 36 (README): full_tune.py --order-share learns them (held-out frames,
# verifier alone: 16 -> 67 % of the rewordings pass, swaps 15 -> 11 %), but the
# validation split's own held-out direction forms then passed more often (its
# generated direction near misses 3 -> 19 at the default), so that adapter
# was not shipped: what the model learnt reads the markers of these frames,
# not yet every way a direction can be worded.

ORDER_DOMAINS = [
    # (frames, training values, development values); the last frame is the development one
    ([["How long is the train ride from {a} to {b}?", "How long is the train ride to {b} from {a}?",
       "From {a}, how long does the train take to get to {b}?"],
      ["What's the cheapest way to get from {a} to {b}?", "What's the cheapest way to get to {b} from {a}?",
       "Cheapest way to travel to {b}, starting from {a}?"],
      ["How much is a taxi from {a} to {b}?", "How much does a taxi to {b} from {a} cost?",
       "Starting from {a}, what does a cab to {b} cost?"],
      ["Is there a night bus from {a} to {b}?", "Is there a night bus to {b} from {a}?",
       "Can I catch a night bus to {b} leaving from {a}?"],
      ["How far is the drive from {a} to {b} in winter?", "In winter, how far is the drive to {b} from {a}?",
       "Driving to {b} from {a} in winter: how far is it?"],
      ["Which ferry goes from {a} to {b}?", "Which ferry goes to {b} from {a}?",
       "What ferry can take me to {b} if I'm leaving from {a}?"]],
     ["Lisbon", "Porto", "Dublin", "Belfast", "Oslo", "Bergen", "Naples", "Palermo", "Athens", "Crete", "Vienna",
      "Salzburg", "Nice", "Marseille", "Seville", "Valencia", "Krakow", "Warsaw", "Helsinki", "Tallinn"],
     ["Bristol", "Cardiff", "Geneva", "Zurich", "Lyon", "Bordeaux", "Gdansk", "Riga"]),
    ([["How do I move my music from {a} to {b}?", "How do I move my music to {b} from {a}?",
       "From {a} to {b}: how do I move my music?"],
      ["How can I get my WhatsApp chats from {a} onto {b}?", "How can I get my WhatsApp chats onto {b} from {a}?",
       "I want my WhatsApp chats on {b}; they're on {a}. How?"],
      ["What's the fastest way to copy a large folder from {a} to {b}?",
       "What's the fastest way to copy a large folder to {b} from {a}?",
       "Fastest way to copy a big folder onto {b} off {a}?"],
      ["How do I restore a backup from {a} to {b}?", "How do I restore a backup to {b} from {a}?",
       "Restoring a backup onto {b} that was made on {a}: how?"]],
     ["my Pixel", "my Galaxy phone", "my iPhone 12", "my iPhone 15", "my Surface", "my ThinkPad", "my iMac",
      "my Chromebook", "a Synology NAS", "Backblaze", "Box", "pCloud", "my Linux box"],
     ["my old Xperia", "my OnePlus", "my Dell XPS", "Mega", "Amazon Drive"]),
    ([["How do I migrate a database from {a} to {b}?", "How do I migrate a database to {b} from {a}?",
       "Migrating a database to {b} from {a}: what are the steps?"],
      ["What breaks when you move a schema from {a} to {b}?", "What breaks when you move a schema to {b} from {a}?",
       "Moving a schema over to {b} from {a}: what breaks?"],
      ["Is there a tool to convert queries from {a} to {b}?", "Is there a tool to convert queries to {b} from {a}?",
       "Any tool that rewrites {a} queries into {b}?"],
      ["How do I replicate data from {a} into {b}?", "How do I replicate data into {b} from {a}?",
       "What's the way to stream changes out of {a} into {b}?"]],
     ["MySQL", "PostgreSQL", "SQLite", "MongoDB", "Oracle", "SQL Server", "MariaDB", "DynamoDB", "Cassandra",
      "Snowflake", "BigQuery", "Elasticsearch"],
     ["CockroachDB", "ClickHouse", "Firebase", "Neo4j", "Couchbase"]),
    ([["How do I switch our CI from {a} to {b}?", "How do I switch our CI to {b} from {a}?",
       "We're moving our CI to {b} from {a}. Where do I start?"],
      ["What's a checklist for moving our pipelines from {a} to {b}?",
       "What's a checklist for moving our pipelines to {b} from {a}?",
       "Give me a checklist to move our pipelines over to {b} from {a}."]],
     ["Jenkins", "GitHub Actions", "GitLab CI", "CircleCI", "Travis CI", "Buildkite", "Drone", "Azure Pipelines"],
     ["TeamCity", "Bamboo", "Concourse"]),
    ([["Is it hard to port a frontend from {a} to {b}?", "Is it hard to port a frontend to {b} from {a}?",
       "Porting a frontend to {b} from {a}: how hard is it?"],
      ["How do I convert my components from {a} to {b}?", "How do I convert my components to {b} from {a}?",
       "My components are written in {a}; how do I turn them into {b} components?"]],
     ["React", "Vue", "Angular", "Svelte", "jQuery", "Backbone", "Preact", "Lit"],
     ["Ember", "SolidJS", "Alpine.js"]),
    ([["How do I rewrite a build script from {a} into {b}?", "How do I rewrite a build script into {b} from {a}?",
       "Rewriting a build script into {b} from {a}: how?"],
      ["What's involved in turning a build for {a} into one for {b}?",
       "What's involved in turning a build into one for {b}, when it was made for {a}?",
       "How do I move a build over to {b} from {a}?"]],
     ["Maven", "Gradle", "webpack", "Vite", "Make", "CMake", "Ant", "sbt"],
     ["Bazel", "Parcel", "Meson"]),
    ([["Write a thank-you note from {a} to {b}.", "Write a thank-you note to {b} from {a}.",
       "Draft a thank-you note addressed to {b}, signed by {a}."],
      ["Write an apology email from {a} to {b}.", "Write an apology email to {b} from {a}.",
       "Compose an email of apology to {b}, written by {a}."],
      ["Draft a letter of complaint from {a} to {b}.", "Draft a letter of complaint to {b} from {a}.",
       "Write {b} a letter of complaint on behalf of {a}."],
      ["Write a short welcome message from {a} to {b}.", "Write a short welcome message to {b} from {a}.",
       "Compose a brief welcome note for {b}, sent by {a}."]],
     ["a teacher", "a student", "a manager", "a new hire", "a landlord", "a tenant", "a coach", "a player",
      "a doctor", "a patient", "a grandmother", "a grandson", "a customer", "a supplier"],
     ["a nurse", "an intern", "a mayor", "a volunteer", "a neighbor"]),
    ([["How long does a bank transfer from {a} to {b} take?", "How long does a bank transfer to {b} from {a} take?",
       "Sending money to {b} from {a}: how long does it take to arrive?"],
      ["What fees apply when sending money from {a} to {b}?", "What fees apply when sending money to {b} from {a}?",
       "Fees for a payment to {b} that comes from {a}?"],
      ["Can I pay rent from {a} to {b}?", "Can I pay rent to {b} from {a}?",
       "Is paying rent to {b} out of {a} possible?"]],
     ["Revolut", "Wise", "Monzo", "N26", "Chase", "Barclays", "HSBC", "Cash App", "Zelle", "a Swiss bank",
      "a German bank", "a credit union"],
     ["Santander", "Citibank", "Starling", "ING"]),
]


def _a_first(template):
    return template.index("{a}" if "{a}" in template else "{A}") < template.index("{b}")


def order_pairs(rng, n, split="train", balanced=False):
    """Pairs of `split` ("train" or "dev"): two forms of one frame with the
    places kept (positive), the places swapped in either form (negative),
    another place (negative).

    balanced: the two forms are as often in the same order of places as in
    opposite orders, and a pair of two wordings is as often a positive as the
    swap; so "the wording changed and the names came out reversed" says nothing
    about the label (stop 36's o2, trained without it, learnt that such pairs
    are mostly the same question and passed swaps worded other ways)."""
    dev = split == "dev"
    domains = [([frames[-1]] if dev else frames[:-1], dev_values if dev else values)
               for frames, values, dev_values in ORDER_DOMAINS]
    out = []
    while len(out) < n:
        frames, values = rng.choice(domains)
        a, b = rng.sample(values, 2)
        forms = rng.choice(frames)
        if balanced:
            same = [(f, g) for f in forms for g in forms if f != g and _a_first(f) == _a_first(g)]
            crossed = [(f, g) for f in forms for g in forms if _a_first(f) != _a_first(g)]
            first, second = rng.choice(same if same and (not crossed or rng.random() < 0.5) else crossed)
        else:
            first, second = rng.sample(forms, 2)

        def render(template, x, y):
            text = template.format(a=x, A=x[0].upper() + x[1:], b=y)
            return text[0].upper() + text[1:]

        base = render(first, a, b)
        roll = rng.random()
        if balanced:
            if roll < 0.4:
                other, label, kind = render(second, a, b), 1, "paraphrase"
            elif roll < 0.8:
                other, label, kind = render(second, b, a), 0, "direction"
            elif roll < 0.9:
                other, label, kind = render(first, b, a), 0, "direction"
            else:
                c = rng.choice([v for v in values if v not in (a, b)])
                other, label, kind = (render(second, c, b) if rng.random() < 0.5 else render(second, a, c)), 0, "value"
        elif roll < 0.45:
            other, label, kind = render(second, a, b), 1, "paraphrase"
        elif roll < 0.9:
            # The swap in the other form half the time: the names then often keep
            # their order and only the markers move.
            other, label, kind = render(second if rng.random() < 0.5 else first, b, a), 0, "direction"
        else:
            c = rng.choice([v for v in values if v not in (a, b)])
            other, label, kind = (render(second, c, b) if rng.random() < 0.5 else render(second, a, c)), 0, "value"
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label,
                    "kind": f"gen-{kind}" if not dev else f"dev-order-{kind}",
                    "family": "relations", "split": split})
    return out


# ------------------------------------------------------- question words
# From stop 41. The question word is the question: "When did the Berlin Wall
# fall?", "Why did the Berlin Wall fall?" and "How did the Berlin Wall fall?"
# want three answers, and "Did Apple buy Beats?" a fourth. No family paired
# two question words before, and the shipped adapter passed 8 of 16 such
# pairs written by hand (0.92-0.997) and, in the validation split's retrieval,
# answered "Why did Microsoft replace Disney?" with the entry for "How was
# Disney replaced by Microsoft?". Pairs within one group (two wordings of the
# same question word) are positives; across groups, negatives. About one
# subject in five is held out (families._wh_dev) into dev_wh.jsonl.

WH_PAST = [
    ("Lehman Brothers", "collapse", "collapsed", True), ("the Roman Empire", "collapse", "collapsed", True),
    ("the Lusitania", "sink", "sank", True), ("the dinosaurs", "go extinct", "went extinct", True),
    ("Napoleon", "die", "died", True), ("the Soviet Union", "break up", "broke up", True),
    ("the stock market", "crash in 1929", "crashed in 1929", False), ("the Hindenburg", "explode", "exploded", True),
    ("Pompeii", "get destroyed", "got destroyed", True), ("the Great Fire of London", "start", "started", True),
    ("the Chernobyl reactor", "explode", "exploded", True), ("IBM", "sell its PC business", "sold its PC business", True),
    ("Oracle", "acquire Sun Microsystems", "acquired Sun Microsystems", True), ("Disney", "buy Pixar", "bought Pixar", True),
    ("the Louvre", "become a museum", "became a museum", True), ("Facebook", "buy Instagram", "bought Instagram", True),
    ("Elon Musk", "buy Twitter", "bought Twitter", True), ("Nokia", "lose the phone market", "lost the phone market", True),
    ("Blockbuster", "go bankrupt", "went bankrupt", True), ("Kodak", "go bankrupt", "went bankrupt", True),
    ("the Beatles", "break up", "broke up", True), ("Van Gogh", "cut off his ear", "cut off his ear", True),
    ("Caesar", "cross the Rubicon", "crossed the Rubicon", True), ("the US", "enter World War II", "entered World War II", True),
    ("Britain", "leave the EU", "left the EU", True), ("the Library of Alexandria", "burn", "burned", True),
    ("the Ming dynasty", "end", "ended", True), ("Mount Vesuvius", "erupt", "erupted", True),
    ("the Challenger shuttle", "explode", "exploded", True), ("Pluto", "lose its planet status", "lost its planet status", True),
    ("the Maya civilization", "decline", "declined", True), ("the Vikings", "reach North America", "reached North America", True),
    ("Columbus", "reach the Americas", "reached the Americas", True), ("the Great Depression", "end", "ended", True),
    ("Prohibition", "end", "ended", True), ("Netflix", "stop mailing DVDs", "stopped mailing DVDs", True),
    ("Bitcoin", "crash in 2022", "crashed in 2022", False), ("the Leaning Tower of Pisa", "start to lean", "started to lean", True),
    ("the Panama Canal", "get built", "got built", True), ("Shakespeare", "write Hamlet", "wrote Hamlet", True),
    ("Beethoven", "go deaf", "went deaf", True), ("Marie Curie", "discover radium", "discovered radium", True),
    ("Newton", "discover gravity", "discovered gravity", True), ("the Aztec empire", "fall", "fell", True),
    ("the Cold War", "end", "ended", True), ("Tesla", "move its headquarters to Texas", "moved its headquarters to Texas", True),
    ("the dot-com bubble", "burst", "burst", True), ("Greenland", "get its name", "got its name", True),
    ("Australia", "become independent", "became independent", True), ("the Statue of Liberty", "turn green", "turned green", True),
    ("Twitter", "change its name to X", "changed its name to X", True), ("Rome", "burn", "burned", True),
    ("my sourdough", "collapse in the oven", "collapsed in the oven", False),
    ("my laptop", "shut down suddenly", "shut down suddenly", False), ("the printer", "stop working", "stopped working", False),
    ("the power", "go out last night", "went out last night", False), ("my tomato plants", "die", "died", False),
    ("the Wright brothers", "build their first plane", "built their first plane", True),
    ("the Mongol empire", "expand so fast", "expanded so fast", True), ("Pepsi", "change its logo", "changed its logo", True),
]
WH_PAST_GROUPS = {
    "when": ["When did {s} {v}?", "What year did {s} {v}?", "In what year did {s} {v}?", "When exactly did {s} {v}?",
             "At what point did {s} {v}?", "On what date did {s} {v}?"],
    "why": ["Why did {s} {v}?", "What was the reason {s} {past}?", "For what reason did {s} {v}?",
            "Why exactly did {s} {v}?", "What made {s} {v}?", "What caused {s} to {v}?", "How come {s} {past}?"],
    "how": ["How did {s} {v}?", "In what way did {s} {v}?", "How exactly did {s} {v}?", "By what means did {s} {v}?",
            "In what manner did {s} {v}?"],
    "did": ["Did {s} {v}?", "Is it true that {s} {past}?", "Did {s} really {v}?"],
}
WH_PRESENT = [
    ("birds", "migrate"), ("bears", "hibernate"), ("salmon", "swim upstream"), ("cats", "purr"), ("bees", "make honey"),
    ("leaves", "change color"), ("geysers", "erupt"), ("earthquakes", "happen"), ("hurricanes", "form"),
    ("people", "get hiccups"), ("babies", "start walking"), ("dogs", "shed"), ("tides", "change"), ("stars", "twinkle"),
    ("snakes", "shed their skin"), ("whales", "sing"), ("frogs", "croak"), ("owls", "hunt"), ("mosquitoes", "bite"),
    ("geese", "fly in a V"), ("tulips", "bloom"), ("sea turtles", "lay eggs"), ("monarch butterflies", "migrate"),
    ("deer", "lose their antlers"), ("rainbows", "appear"), ("the northern lights", "appear"), ("tsunamis", "happen"),
    ("wolves", "howl"), ("crickets", "chirp"), ("cherry trees", "blossom"), ("humpback whales", "breed"),
    ("lightning strikes", "happen"), ("swallows", "fly south"), ("wildfires", "start"),
]
WH_PRESENT_GROUPS = {
    "when": ["When do {s} {v}?", "At what time of year do {s} {v}?", "What time of year do {s} {v}?",
             "During which season do {s} {v}?"],
    "why": ["Why do {s} {v}?", "What is the reason {s} {v}?", "For what reason do {s} {v}?", "What makes {s} {v}?",
            "What causes {s} to {v}?", "How come {s} {v}?"],
    "how": ["How do {s} {v}?", "In what way do {s} {v}?", "How exactly do {s} {v}?", "By what means do {s} {v}?"],
    "where": ["Where do {s} {v}?", "In which places do {s} {v}?", "Where exactly do {s} {v}?",
              "In what parts of the world do {s} {v}?"],
}
# Tasks: "How do I X?", "What are the steps to X?" and "What's involved in
# X-ing?" open with other words and ask one thing; "How often…", "How long…"
# and "How much does it cost…" open with "How" and ask another.
WH_TASKS = [
    ("reset my router", "resetting my router"), ("renew my passport", "renewing my passport"),
    ("back up my iPhone", "backing up my iPhone"), ("clean a cast iron pan", "cleaning a cast iron pan"),
    ("file my taxes online", "filing my taxes online"), ("change a car tire", "changing a car tire"),
    ("apply for a mortgage", "applying for a mortgage"), ("defrost a freezer", "defrosting a freezer"),
    ("repot a cactus", "repotting a cactus"), ("update my BIOS", "updating my BIOS"),
    ("descale a kettle", "descaling a kettle"), ("register a company", "registering a company"),
    ("bleed a radiator", "bleeding a radiator"), ("rotate my API keys", "rotating my API keys"),
    ("rebase a git branch", "rebasing a git branch"), ("prune a rose bush", "pruning a rose bush"),
    ("sharpen a kitchen knife", "sharpening a kitchen knife"), ("replace a shower head", "replacing a shower head"),
    ("vaccinate my puppy", "vaccinating my puppy"), ("calibrate my monitor", "calibrating my monitor"),
    ("refinance my car loan", "refinancing my car loan"), ("season a wok", "seasoning a wok"),
    ("winterize my garden hose", "winterizing my garden hose"), ("migrate my database", "migrating my database"),
    ("transfer a domain name", "transferring a domain name"), ("jump-start a car", "jump-starting a car"),
    ("unclog a drain", "unclogging a drain"), ("paint a kitchen cabinet", "painting a kitchen cabinet"),
    ("replace a bike chain", "replacing a bike chain"), ("reinstall Windows", "reinstalling Windows"),
]
WH_TASK_GROUPS = {
    "how": ["How do I {t}?", "What are the steps to {t}?", "What's involved in {g}?", "What's the best way to {t}?",
            "Can you tell me how to {t}?", "{G}: how do I do it?", "How should I go about {g}?", "Walk me through {g}."],
    "why": ["Why should I {t}?", "Why do I need to {t}?", "What's the point of {g}?", "For what reason should I {t}?"],
    "when": ["When should I {t}?", "What's the right time to {t}?", "At what point should I {t}?"],
    "often": ["How often should I {t}?", "How frequently should I {t}?"],
    "long": ["How long does it take to {t}?", "How much time does {g} take?"],
    "cost": ["How much does it cost to {t}?", "What does {g} cost?"],
}
# The relations family's templates (RELATION_TEMPLATES) each keep one
# question word; across templates the same two sides and verb ask another
# question ("Why did A replace B?" / "How was B replaced by A?").
WH_RELATION_GROUPS = {
    "did": ["Did {a} {v} {b}?", "Was {b} {p} by {a}?", "Did {a} really {v} {b}?"],
    "why": ["Why did {a} {v} {b}?", "Why was {b} {p} by {a}?", "What made {a} {v} {b}?", "For what reason did {a} {v} {b}?"],
    "when": ["When did {a} {v} {b}?", "When was {b} {p} by {a}?", "What year did {a} {v} {b}?"],
    "how": ["How did {a} {v} {b}?", "How was {b} {p} by {a}?", "In what way did {a} {v} {b}?"],
}


def _wh_dev(subject):
    return zlib.crc32(subject.encode()) % 5 == 0


def question_word_pairs(rng, n, split="train", relation_sides=None, relation_verbs=None, positive_share=0.4,
                        wordings=None, tasks=True, only_relations=False, positive_wordings=None):
    """Pairs of `split` ("train" or "dev"): two wordings of one question word
    about one subject (positive, kind "wh-same"), two question words about it
    (negative, "wh-change"); each group has wordings that open with other
    words ("What made …", "How come …", "In what year …") so that the opener
    alone does not decide. relation_sides / relation_verbs (training values
    of the relations family) add its templates across question words.
    wordings keeps only the first that many wordings of each group (fewer
    openers); tasks=False leaves out the task groups (WH_TASK_GROUPS);
    only_relations keeps the relations family's templates alone (the class
    retrieval answers showed). positive_wordings, when set, keeps that many
    wordings for the positives instead (0: all), so two wordings of one
    question word are seen in more forms than the negatives' openers (stop 50)."""
    dev = split == "dev"
    past = [e for e in WH_PAST if _wh_dev(e[0]) == dev]
    present = [e for e in WH_PRESENT if _wh_dev(e[0]) == dev]
    task_subjects = [e for e in WH_TASKS if _wh_dev(e[0]) == dev] if tasks else []
    task_end = 0.55 if tasks else 0.25
    past_end = task_end + 0.3 if tasks else 0.7
    out = []
    while len(out) < n:
        roll = rng.random()
        if relation_sides and relation_verbs and (only_relations or roll < 0.25):
            sides = rng.choice(relation_sides)
            a, b = rng.sample(sides, 2)
            v, p = rng.choice(relation_verbs)
            groups, fill = WH_RELATION_GROUPS, {"a": a, "b": b, "v": v, "p": p}
        elif task_subjects and roll < task_end:
            t, g = rng.choice(task_subjects)
            groups, fill = WH_TASK_GROUPS, {"t": t, "g": g, "G": g[0].upper() + g[1:]}
        elif roll < past_end:
            s, v, past_form, dated = rng.choice(past)
            groups = {k: t for k, t in WH_PAST_GROUPS.items() if dated or k != "when"}
            fill = {"s": s, "v": v, "past": past_form}
        else:
            s, v = rng.choice(present)
            groups, fill = WH_PRESENT_GROUPS, {"s": s, "v": v}
        full = groups
        if wordings:
            groups = {k: t[:wordings] for k, t in groups.items()}
        first = rng.choice(sorted(groups))
        if rng.random() < positive_share:
            pool = groups[first]
            if positive_wordings is not None:
                pool = full[first][:positive_wordings] if positive_wordings else full[first]
            x, y = rng.sample(pool, 2)
            label, kind = 1, "wh-same"
        else:
            second = rng.choice([g for g in sorted(groups) if g != first])
            x, y = rng.choice(groups[first]), rng.choice(groups[second])
            label, kind = 0, "wh-change"
        x, y = x.format(**fill), y.format(**fill)
        x, y = x[0].upper() + x[1:], y[0].upper() + y[1:]
        pair = (x, y) if rng.random() < 0.5 else (y, x)
        out.append({"a": pair[0], "b": pair[1], "label": label, "kind": kind, "family": "question_words",
                    "split": split})
    return out


# ------------------------------------------------------ what to write
# Used by full_tune.py (--format-share): a request to write one kind of text
# against the same request for another kind ("Write a short poem about the
# ocean." / "Write a short story about the ocean.", 0.999 for the shipped
# adapter on stop 41's fresh probe). The poem family only swaps poem forms
# (haiku / limerick / sonnet); nothing paired a poem with a story, a speech
# with a blog post. A positive is one kind (or a synonym of it) in two
# wordings. The study group and the last two wordings are held out into
# dev_format.jsonl (tools/verifier/format_dev.py, kinds dev-format-*).
FORMAT_FRAMES = [
    "Write {a} about {t}.", "Can you write me {a} about {t}?", "Compose {a} on {t}.", "I'd like {a} about {t}.",
    "Give me {a} about {t}.", "Please write {a} on the topic of {t}.", "Could you create {a} about {t}?",
    "write {a} about {t}", "Draft {a} about {t}.", "I need {a} about {t}.",
]
FORMAT_DEV_FRAMES = 2

# (kinds, dev): a kind given as a tuple is one kind under several names.
FORMAT_GROUPS = [
    ([("poem", "short poem"), ("short story", "story"), ("song", "set of song lyrics"), "joke", "riddle", "fable",
      "scene for a play"], False),
    (["blog post", ("tweet", "tweet-length post"), "speech", "press release", "newsletter", "LinkedIn post",
      "product description"], False),
    (["quiz", "lesson plan", "study guide", ("outline", "essay outline"), "set of flashcards", "cheat sheet",
      "reading list"], True),
]

FORMAT_TOPICS = [
    "the ocean", "autumn", "a lighthouse keeper", "my grandmother's kitchen", "the first day of school",
    "a lost umbrella", "the city at night", "time travel", "a robot learning to paint", "winter mornings",
    "the first moon landing", "a rainy Sunday", "moving to a new city", "a haunted library", "bees",
    "the water cycle", "photosynthesis", "the French Revolution", "volcanoes", "compound interest",
]


def _article(phrase):
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


def format_pairs(rng, n, split="train", positive_share=0.4):
    """Pairs of `split` ("train" or "dev"): one kind of text to write in two
    wordings (positive); another kind of the group, the topic kept, in the
    other wording or the same one (negative)."""
    groups = [kinds for kinds, dev in FORMAT_GROUPS if dev == (split == "dev")]
    frames = FORMAT_FRAMES[:-FORMAT_DEV_FRAMES] if split == "train" else FORMAT_FRAMES
    out = []
    while len(out) < n:
        kinds = rng.choice(groups)
        entry = rng.choice(kinds)
        names = (entry,) if isinstance(entry, str) else entry
        t = rng.choice(FORMAT_TOPICS)
        first, second = rng.sample(frames, 2)
        if split == "dev" and FORMAT_FRAMES.index(first) < len(FORMAT_FRAMES) - FORMAT_DEV_FRAMES \
                and FORMAT_FRAMES.index(second) < len(FORMAT_FRAMES) - FORMAT_DEV_FRAMES and rng.random() < 0.5:
            second = rng.choice(FORMAT_FRAMES[-FORMAT_DEV_FRAMES:])

        def render(frame, kind):
            text = frame.format(a=_article(kind), t=t)
            return text[0].upper() + text[1:] if frame[0].isupper() else text

        base = render(first, rng.choice(names))
        if rng.random() < positive_share:
            other, label, kind = render(second, rng.choice(names)), 1, "paraphrase"
        else:
            pick = rng.choice([m for m in kinds if m is not entry])
            pick = pick if isinstance(pick, str) else rng.choice(pick)
            other, label, kind = render(second if rng.random() < 0.75 else first, pick), 0, "value"
        if base == other:
            continue
        pair = (base, other) if rng.random() < 0.5 else (other, base)
        out.append({"a": pair[0], "b": pair[1], "label": label,
                    "kind": f"gen-{kind}" if split == "train" else f"dev-format-{kind}",
                    "family": "formats", "split": split})
    return out
