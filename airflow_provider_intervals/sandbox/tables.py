"""Vocabulary for the seeded data: places, cities, people, distances, enums."""

from __future__ import annotations

EVENT_TYPES = ("race", "runClub", "timeTrial", "other")
RECURRENCE_STATUSES = ("active", "paused", "archived")
GROUP_STATUSES = ("active", "paused", "archived")
REGISTRATION_TYPES = ("free", "paid")
REGISTRATION_STATUSES = ("confirmed", "cancelled", "waitlist", "refunded")
EVENT_STATUSES = ("scheduled", "cancelled", "postponed", "rescheduled")
ORGANIZATION_PLANS = ("free", "premium", "enterprise")

SCOPES = frozenset(
    {
        "read:series",
        "read:events",
        "write:events",
        "read:participants",
        "write:participants",
        "read:recurrences",
        "read:groups",
    }
)

# Share of each type out of 256: race 45%, runClub 30%, timeTrial 15%, other 10%.
TYPE_BY_BYTE = tuple(0 if b < 115 else 1 if b < 192 else 2 if b < 230 else 3 for b in range(256))

PLACES = (
    "Lakefront",
    "Riverside",
    "Harbor",
    "Prairie",
    "Oak Park",
    "Pine Ridge",
    "Bayview",
    "Cedar Hill",
    "Maple Grove",
    "Summit",
    "Canyon",
    "Meadowbrook",
    "Lighthouse",
    "Boardwalk",
    "Old Mill",
    "North Shore",
    "Willow Creek",
    "Stonebridge",
    "Sunset",
    "Granite Peak",
    "Fox River",
    "Aspen",
    "Redwood",
    "Heritage",
    "Union Station",
    "Parkside",
    "Bluff",
    "Ironwood",
    "Lakeshore",
    "Hillcrest",
    "Greenway",
    "Kingsbury",
    "Brookside",
    "Quarry",
    "Orchard",
    "Bridgeport",
    "Seaside",
    "Timberline",
)
PLACE_SLUGS = tuple(p.lower().replace(" ", "-") for p in PLACES)

# distanceStandard -> (metres, label)
DISTANCES = {
    "5K": (5000, "5K"),
    "10K": (10000, "10K"),
    "15K": (15000, "15K"),
    "Half Marathon": (21097, "Half Marathon"),
    "Marathon": (42195, "Marathon"),
    "50K": (50000, "50K Ultra"),
    "Other": (1609, "1 Mile"),
}
RUN_CHOICES = ("5K", "10K", "15K", "Half Marathon", "Marathon", "50K", "Other")

# Per event type: (name part, slug part, distanceStandard of the main run, description)
KINDS = (
    (
        ("5K", "5k", "5K", "A fast, flat {p} 5K on a certified course."),
        ("10K", "10k", "10K", "The {p} 10K: two loops of the park with chip timing."),
        ("15K", "15k", "15K", "Rolling 15K through {p} with aid every 3K."),
        ("Half Marathon", "half-marathon", "Half Marathon", "The {p} Half Marathon, a spring classic."),
        ("Marathon", "marathon", "Marathon", "Boston-qualifying {p} Marathon, pacers for every goal."),
        ("50K Trail Race", "50k-trail-race", "50K", "A rugged {p} 50K on single-track trail."),
    ),
    (
        ("Run Club", "run-club", "5K", "Weekly {p} run club: all paces welcome, coffee after."),
        ("Social Run", "social-run", "5K", "An easy social run from {p}, no one left behind."),
        ("Tempo Tuesday", "tempo-tuesday", "10K", "Structured tempo workout at {p} with pace groups."),
        ("Long Run Sunday", "long-run-sunday", "15K", "Supported {p} long run with water stops."),
    ),
    (
        ("5K Time Trial", "5k-time-trial", "5K", "Monthly {p} 5K time trial, results posted same day."),
        ("Mile Time Trial", "mile-time-trial", "Other", "Track mile at {p}, heats by seed time."),
        ("10K Time Trial", "10k-time-trial", "10K", "Out-and-back {p} 10K time trial."),
    ),
    (
        ("Fun Run", "fun-run", "Other", "Family fun run at {p} with a kids' dash."),
        ("Color Run", "color-run", "5K", "The {p} color run: untimed, messy, joyful."),
        ("Trail Cleanup", "trail-cleanup", "Other", "Volunteer trail cleanup and shakeout jog at {p}."),
    ),
)

START_TIMES = (
    ("07:00", "07:30", "08:00", "08:30"),
    ("06:00", "06:30", "18:00", "18:30", "19:00"),
    ("07:00", "18:00", "18:30"),
    ("09:00", "10:00", "11:00"),
)

# (city, region, postal prefix, lat, lng)
CITIES = (
    ("Chicago", "IL", "606", 41.8781, -87.6298),
    ("Evanston", "IL", "602", 42.0451, -87.6877),
    ("Milwaukee", "WI", "532", 43.0389, -87.9065),
    ("Madison", "WI", "537", 43.0731, -89.4012),
    ("Minneapolis", "MN", "554", 44.9778, -93.2650),
    ("Detroit", "MI", "482", 42.3314, -83.0458),
    ("Cleveland", "OH", "441", 41.4993, -81.6944),
    ("Columbus", "OH", "432", 39.9612, -82.9988),
    ("Indianapolis", "IN", "462", 39.7684, -86.1581),
    ("St. Louis", "MO", "631", 38.6270, -90.1994),
    ("Des Moines", "IA", "503", 41.5868, -93.6250),
    ("Grand Rapids", "MI", "495", 42.9634, -85.6681),
)
STREETS = (
    "Lake Shore Dr",
    "Main St",
    "Park Ave",
    "River Rd",
    "Harbor Way",
    "Elm St",
    "Oak St",
    "Mill Rd",
    "Station Pl",
    "Bay St",
    "Prairie Ave",
    "Ridge Rd",
)
FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jada",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vera",
    "Wes",
    "Ximena",
    "Yuki",
    "Zane",
)
LAST_NAMES = (
    "Anders",
    "Brooks",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ibrahim",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Walsh",
    "Young",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
PACE_GROUPS = ("7:00/mi", "8:00/mi", "9:00/mi", "10:00/mi", "11:00/mi", "walk")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
GROUPS = (
    ("North Shore Runners", "Weekly runs along the North Shore."),
    ("Lakefront Run Club", "Sunrise miles on the lakefront path."),
    ("Trail Dogs", "Off-road runs in the forest preserves."),
    ("Track Tuesday", "Intervals on the track every Tuesday."),
    ("Marathon Training Team", "An 18-week build to race day."),
    ("Couch to 5K", "From walking to your first 5K."),
    ("Masters Milers", "Fast and over forty."),
    ("Brewery Runners", "Three miles, then a pint."),
    ("Ultra Crew", "Long days on the trails."),
    ("Youth Cross Country", "Cross-country for ages 10 to 18."),
)
RECURRENCE_LABELS = (
    "Tuesday Night Run Club",
    "Thursday Tempo",
    "Saturday Long Run",
    "Sunday Social Run",
    "Wednesday Track Session",
    "Monday Recovery Jog",
    "Friday Sunrise Miles",
)
