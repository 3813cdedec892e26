"""Held-out function signatures for measuring tool calls on functions a user brings.

Written by hand for ``bench/tool_calls.py``, independently of the training-data
generators in ``recipes/`` (other domains, other wording, other naming styles) and
never trained on. Each is ``F(name, description, **parameters)``, a parameter
``(type, description)`` or ``(type, description, extra)`` where ``extra`` holds
``enum``, ``default``, ``items`` or ``properties``; a parameter with a default is
optional, every other one required.
"""

from __future__ import annotations

from typing import Any


def F(name: str, description: str, **params: tuple[Any, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, spec in params.items():
        kind, text, *rest = spec
        extra: dict[str, Any] = dict(rest[0]) if rest else {}
        prop = {"type": kind, "description": text, **extra}
        properties[key] = prop
        if "default" not in extra:
            required.append(key)
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


STR, INT, NUM, BOOL = "string", "integer", "number", "boolean"
STRS = {"items": {"type": "string"}}

FUNCTIONS = [
    # travel
    F(
        "book_flight",
        "Book a one-way flight between two airports on a date.",
        origin=(STR, "IATA code of the departure airport"),
        destination=(STR, "IATA code of the arrival airport"),
        date=(STR, "departure date, YYYY-MM-DD"),
        cabin=(
            STR,
            "cabin class",
            {"enum": ["economy", "business", "first"], "default": "economy"},
        ),
    ),
    F(
        "findHotels",
        "Search hotels in a city for a number of nights.",
        city=(STR, "city name"),
        nights=(INT, "how many nights"),
        maxPricePerNight=(NUM, "upper price limit in euros", {"default": 200}),
    ),
    F(
        "train.timetable",
        "Departures of trains from a station, optionally toward one destination.",
        station=(STR, "station name"),
        toward=(STR, "destination station", {"default": ""}),
    ),
    F(
        "get_visa_requirements",
        "Whether a citizen of one country needs a visa to visit another.",
        citizenship=(STR, "traveller's country"),
        destination_country=(STR, "country to visit"),
    ),
    F(
        "rent_car",
        "Reserve a rental car at a location.",
        pickup_city=(STR, "where to pick the car up"),
        days=(INT, "rental length in days"),
        automatic=(BOOL, "automatic gearbox wanted", {"default": False}),
    ),
    # money
    F(
        "convert_currency",
        "Convert an amount of money from one currency to another.",
        amount=(NUM, "the amount"),
        from_currency=(STR, "ISO 4217 code, e.g. USD"),
        to_currency=(STR, "ISO 4217 code"),
    ),
    F(
        "stockQuote",
        "Latest price of a stock by its ticker symbol.",
        ticker=(STR, "ticker symbol such as AAPL"),
    ),
    F(
        "loan.monthly_payment",
        "Monthly payment of a fixed-rate loan.",
        principal=(NUM, "amount borrowed"),
        annual_rate_percent=(NUM, "yearly interest rate in percent"),
        years=(INT, "term in years"),
    ),
    F(
        "split_bill",
        "Split a restaurant bill between people, tip included.",
        total=(NUM, "bill total"),
        people=(INT, "number of people"),
        tip_percent=(NUM, "tip in percent", {"default": 15}),
    ),
    F(
        "send_payment",
        "Send money to a contact.",
        recipient=(STR, "contact name"),
        amount=(NUM, "amount"),
        note=(STR, "message attached", {"default": ""}),
    ),
    # weather and nature
    F(
        "get_forecast",
        "Weather forecast for a place for the coming days.",
        location=(STR, "city or region"),
        days=(INT, "number of days, 1 to 10", {"default": 3}),
    ),
    F("airQuality", "Current air quality index of a city.", city=(STR, "city name")),
    F(
        "tide_times",
        "High and low tide times at a harbour on a date.",
        harbour=(STR, "harbour name"),
        date=(STR, "YYYY-MM-DD"),
    ),
    F(
        "sunrise_sunset",
        "Sunrise and sunset times for a city on a date.",
        city=(STR, "city"),
        date=(STR, "YYYY-MM-DD"),
    ),
    # health
    F(
        "log_workout",
        "Record a workout in the training diary.",
        activity=(
            STR,
            "kind of exercise",
            {"enum": ["running", "cycling", "swimming", "rowing", "walking"]},
        ),
        minutes=(INT, "duration in minutes"),
        distance_km=(NUM, "distance in kilometres", {"default": 0}),
    ),
    F(
        "bmi",
        "Body mass index from weight and height.",
        weight_kg=(NUM, "weight in kilograms"),
        height_cm=(NUM, "height in centimetres"),
    ),
    F(
        "medication.schedule_reminder",
        "Remind the user to take a medicine at a time each day.",
        medicine=(STR, "medicine name"),
        time=(STR, "time of day, HH:MM"),
    ),
    F(
        "find_pharmacy",
        "Pharmacies open now near a place.",
        near=(STR, "address or district"),
        open_24h=(BOOL, "only ones open day and night", {"default": False}),
    ),
    F(
        "water_intake",
        "Add a glass of water to today's total.",
        millilitres=(INT, "amount drunk in millilitres"),
    ),
    # food
    F(
        "search_recipes",
        "Find recipes that use the given ingredients.",
        ingredients=("array", "ingredients to use", STRS),
        vegetarian=(BOOL, "vegetarian only", {"default": False}),
    ),
    F(
        "scaleRecipe",
        "Scale a recipe's ingredient quantities to a number of servings.",
        recipe_name=(STR, "recipe"),
        servings=(INT, "servings wanted"),
    ),
    F(
        "order_food",
        "Order a dish from a restaurant for delivery.",
        restaurant=(STR, "restaurant name"),
        dish=(STR, "dish name"),
        quantity=(INT, "how many", {"default": 1}),
    ),
    F("wine_pairing", "Suggest a wine to go with a dish.", dish=(STR, "the dish")),
    F(
        "nutrition_facts",
        "Calories and macronutrients of a food in a given amount.",
        food=(STR, "food item"),
        grams=(NUM, "amount in grams"),
    ),
    # music and media
    F(
        "play_song",
        "Play a song on the speaker.",
        title=(STR, "song title"),
        artist=(STR, "artist name", {"default": ""}),
    ),
    F("setVolume", "Set the speaker volume.", level=(INT, "volume from 0 to 100")),
    F("podcast.subscribe", "Subscribe to a podcast by name.", podcast=(STR, "podcast name")),
    F(
        "movie_showtimes",
        "Showtimes of a film at cinemas in a city on a date.",
        movie=(STR, "film title"),
        city=(STR, "city"),
        date=(STR, "YYYY-MM-DD"),
    ),
    F(
        "lyrics_lookup",
        "Find the lyrics of a song.",
        song=(STR, "song title"),
        artist=(STR, "artist"),
    ),
    # sports
    F("match_score", "Latest score of a team's match.", team=(STR, "team name")),
    F(
        "league_table",
        "Current standings of a football league.",
        league=(STR, "league name"),
        season=(STR, "season such as 2025-26", {"default": "current"}),
    ),
    F(
        "book_tennis_court",
        "Reserve a tennis court.",
        club=(STR, "club name"),
        date=(STR, "YYYY-MM-DD"),
        hour=(INT, "start hour, 0-23"),
    ),
    F(
        "marathon_pace",
        "Pace per kilometre needed to finish a distance in a target time.",
        distance_km=(NUM, "race distance in km"),
        target_minutes=(NUM, "target time in minutes"),
    ),
    # shipping and shopping
    F(
        "track_parcel",
        "Where a parcel is now, from its tracking number.",
        tracking_number=(STR, "the tracking number"),
        carrier=(
            STR,
            "carrier",
            {"enum": ["dhl", "ups", "fedex", "usps", "other"], "default": "other"},
        ),
    ),
    F(
        "shipping_cost",
        "Price to ship a parcel between two countries.",
        weight_kg=(NUM, "parcel weight"),
        from_country=(STR, "origin country"),
        to_country=(STR, "destination country"),
        express=(BOOL, "express delivery", {"default": False}),
    ),
    F(
        "addToCart",
        "Add a product to the shopping cart.",
        product_id=(STR, "product identifier"),
        quantity=(INT, "how many", {"default": 1}),
    ),
    F(
        "price_history",
        "Price history of a product over a number of days.",
        product=(STR, "product name"),
        days=(INT, "days back", {"default": 30}),
    ),
    F("apply_coupon", "Apply a discount code to the current order.", code=(STR, "the coupon code")),
    F(
        "return_item",
        "Start a return for an item of an order.",
        order_id=(STR, "order number"),
        reason=(
            STR,
            "why it is returned",
            {"enum": ["damaged", "wrong_item", "not_needed", "other"]},
        ),
    ),
    # work and calendar
    F(
        "calendar.create_event",
        "Add an event to the calendar.",
        title=(STR, "event title"),
        date=(STR, "YYYY-MM-DD"),
        start=(STR, "start time HH:MM"),
        duration_minutes=(INT, "length in minutes", {"default": 60}),
    ),
    F("list_meetings", "Meetings on a given day.", date=(STR, "YYYY-MM-DD")),
    F(
        "send_email",
        "Send an email.",
        to=(STR, "recipient address"),
        subject=(STR, "subject line"),
        body=(STR, "message text"),
    ),
    F(
        "request_leave",
        "Ask for days off.",
        start_date=(STR, "first day off, YYYY-MM-DD"),
        end_date=(STR, "last day off, YYYY-MM-DD"),
        kind=(STR, "leave type", {"enum": ["vacation", "sick", "unpaid"], "default": "vacation"}),
    ),
    F(
        "timezoneConvert",
        "Convert a time from one time zone to another.",
        time=(STR, "HH:MM"),
        from_zone=(STR, "IANA zone"),
        to_zone=(STR, "IANA zone"),
    ),
    F(
        "set_timer",
        "Start a countdown timer.",
        minutes=(INT, "length in minutes"),
        label=(STR, "what it is for", {"default": ""}),
    ),
    F(
        "add_task",
        "Add a task to the to-do list.",
        task=(STR, "what to do"),
        due=(STR, "due date YYYY-MM-DD", {"default": ""}),
        priority=(STR, "priority", {"enum": ["low", "normal", "high"], "default": "normal"}),
    ),
    # home
    F(
        "set_thermostat",
        "Set the heating target temperature of a room.",
        room=(STR, "room name"),
        celsius=(NUM, "target temperature"),
    ),
    F(
        "lights.switch",
        "Turn the lights of a room on or off.",
        room=(STR, "room"),
        on=(BOOL, "true for on, false for off"),
    ),
    F(
        "lock_door",
        "Lock or unlock a door.",
        door=(STR, "which door"),
        locked=(BOOL, "true to lock"),
    ),
    F(
        "start_vacuum",
        "Start the robot vacuum in some rooms.",
        rooms=("array", "rooms to clean", STRS),
    ),
    F(
        "water_plants",
        "Run the garden irrigation for a time.",
        zone=(STR, "garden zone"),
        minutes=(INT, "how long"),
    ),
    F(
        "energy_usage",
        "Electricity used over a period.",
        period=(STR, "period", {"enum": ["today", "week", "month"]}),
    ),
    # units and maths
    F(
        "convert_length",
        "Convert a length between units.",
        value=(NUM, "the length"),
        from_unit=(STR, "unit", {"enum": ["mm", "cm", "m", "km", "in", "ft", "mi"]}),
        to_unit=(STR, "unit", {"enum": ["mm", "cm", "m", "km", "in", "ft", "mi"]}),
    ),
    F(
        "convertTemperature",
        "Convert a temperature between Celsius, Fahrenheit and Kelvin.",
        value=(NUM, "temperature"),
        from_scale=(STR, "scale", {"enum": ["C", "F", "K"]}),
        to_scale=(STR, "scale", {"enum": ["C", "F", "K"]}),
    ),
    F(
        "percentage_change",
        "Percentage change from an old value to a new one.",
        old=(NUM, "old value"),
        new=(NUM, "new value"),
    ),
    F("prime_factors", "Prime factorisation of a whole number.", n=(INT, "the number")),
    F(
        "stats.mean",
        "Arithmetic mean of a list of numbers.",
        values=("array", "the numbers", {"items": {"type": "number"}}),
    ),
    F(
        "compound_interest",
        "Value of savings with yearly compound interest.",
        principal=(NUM, "starting amount"),
        rate_percent=(NUM, "yearly rate in percent"),
        years=(INT, "years"),
    ),
    # geography and knowledge
    F(
        "country_info",
        "Capital, population and currency of a country.",
        country=(STR, "country name"),
    ),
    F(
        "distance_between",
        "Straight-line distance between two cities in km.",
        city_a=(STR, "first city"),
        city_b=(STR, "second city"),
    ),
    F(
        "translate_text",
        "Translate text into another language.",
        text=(STR, "text to translate"),
        target_language=(STR, "language name or ISO code"),
    ),
    F(
        "define_word",
        "Dictionary definition of a word.",
        word=(STR, "the word"),
        language=(STR, "language", {"default": "en"}),
    ),
    F("wiki.summary", "Short encyclopedia summary of a topic.", topic=(STR, "the topic")),
    F("population_of", "Population of a city.", city=(STR, "city name")),
    # devops and computing
    F(
        "restart_service",
        "Restart a service on a server.",
        server=(STR, "host name"),
        service=(STR, "service name"),
    ),
    F(
        "check_website",
        "Whether a website is up, and its response time.",
        url=(STR, "address to check"),
    ),
    F(
        "disk_usage",
        "Disk space used on a server's mount point.",
        server=(STR, "host"),
        mount=(STR, "mount point", {"default": "/"}),
    ),
    F(
        "createGitBranch",
        "Create a git branch in a repository.",
        repository=(STR, "repository name"),
        branch=(STR, "new branch name"),
        from_branch=(STR, "base branch", {"default": "main"}),
    ),
    F(
        "dns.lookup",
        "DNS records of a domain.",
        domain=(STR, "domain name"),
        record_type=(
            STR,
            "record type",
            {"enum": ["A", "AAAA", "MX", "TXT", "CNAME"], "default": "A"},
        ),
    ),
    F(
        "scale_deployment",
        "Set the number of replicas of a deployment.",
        deployment=(STR, "deployment name"),
        replicas=(INT, "replica count"),
    ),
    # education and books
    F(
        "library.search_books",
        "Search the library catalogue.",
        query=(STR, "title, author or subject"),
        available_only=(BOOL, "only books on the shelf", {"default": True}),
    ),
    F("renew_loan", "Renew a borrowed book.", book_id=(STR, "the book's id")),
    F(
        "quiz_me",
        "Start a quiz on a subject.",
        subject=(STR, "subject"),
        questions=(INT, "number of questions", {"default": 5}),
        difficulty=(STR, "difficulty", {"enum": ["easy", "medium", "hard"], "default": "medium"}),
    ),
    F(
        "course_schedule",
        "When a university course meets.",
        course_code=(STR, "course code such as CS101"),
    ),
    # social and messages
    F(
        "post_status",
        "Post a status update.",
        text=(STR, "what to post"),
        audience=(
            STR,
            "who sees it",
            {"enum": ["public", "friends", "only_me"], "default": "friends"},
        ),
    ),
    F(
        "send_sms",
        "Send a text message.",
        phone_number=(STR, "number with country code"),
        message=(STR, "text"),
    ),
    F(
        "schedule_call",
        "Schedule a video call with a contact.",
        contact=(STR, "who"),
        date=(STR, "YYYY-MM-DD"),
        time=(STR, "HH:MM"),
    ),
    # property and cars
    F(
        "estimate_rent",
        "Typical monthly rent for a flat in a city.",
        city=(STR, "city"),
        bedrooms=(INT, "bedroom count"),
    ),
    F(
        "mortgage_affordability",
        "Largest mortgage affordable on an income.",
        annual_income=(NUM, "gross yearly income"),
        deposit=(NUM, "money put down"),
    ),
    F(
        "vehicle.fuel_cost",
        "Fuel cost of a trip.",
        distance_km=(NUM, "trip length"),
        litres_per_100km=(NUM, "car consumption"),
        price_per_litre=(NUM, "fuel price"),
    ),
    F(
        "find_charging_station",
        "Electric car chargers near a place.",
        near=(STR, "place"),
        min_power_kw=(NUM, "minimum charger power", {"default": 22}),
    ),
]
BY_NAME = {f["name"]: f for f in FUNCTIONS}
