"""What ``docs_data`` writes made-up software manuals from: settings, commands and facts.

Each entry says a thing twice: in the words a manual would use (``does``, ``task``) and
in other words a user might ask with (``asked``), so a question can be asked without
the passage's key words. None of them is about lighthouses, ferries or relays (the
test corpus, ``tests/docs_corpus.py``) or about SQLite (the manual ``bench/`` asks).
"""

from __future__ import annotations

from dataclasses import dataclass

from recipes.tool_words import words


@dataclass(frozen=True)
class Setting:
    """A tunable: its stem, what it does in a manual's words and in a user's, and its values."""

    name: str  # "retries": --retries, PREFIX_RETRIES, retries = ..., retries=...
    does: str  # "the number of times a failed upload is tried again"
    asked: str  # a question in other words, {tool} for the program: "How often does ..."
    values: tuple[str, ...]  # what its default may be
    unit: str = ""  # "seconds"; empty when the value says it


SETTINGS = (
    Setting("retries", "the number of times a failed upload is tried again",
            "How often does {tool} have another go when sending a file fails?",
            ("2", "3", "4", "5", "6", "8", "10")),
    Setting("timeout", "how long to wait for the server to answer",
            "How long does {tool} hang on for a reply from the remote end?",
            ("10", "15", "20", "30", "45", "60", "90", "120"), "seconds"),
    Setting("workers", "the number of worker threads that run at once",
            "How many things does {tool} do in parallel?",
            ("2", "4", "6", "8", "12", "16", "32")),
    Setting("cache-dir", "the folder where downloaded files are cached",
            "Where on disk does {tool} keep the things it already fetched?",
            ("~/.cache/{tool}", "/var/cache/{tool}", "./.{tool}-cache", "/tmp/{tool}")),
    Setting("log-level", "how much detail is written to the log",
            "How chatty is {tool}'s logging out of the box?",
            ("info", "warning", "error", "debug", "notice")),
    Setting("max-size", "the largest file that is indexed",
            "What is the biggest file {tool} will take in?",
            ("8 MB", "16 MB", "25 MB", "50 MB", "64 MB", "100 MB", "2 GB")),
    Setting("batch-size", "how many records are written in one transaction",
            "How many rows does {tool} group together per commit?",
            ("50", "100", "250", "500", "1000", "5000")),
    Setting("interval", "the time between two checks for changes",
            "How often does {tool} look for new changes?",
            ("5", "10", "30", "60", "300", "900"), "seconds"),
    Setting("keep", "how many old backups are kept before the oldest is deleted",
            "How many previous copies does {tool} hold on to?",
            ("3", "5", "7", "10", "14", "30")),
    Setting("port", "the TCP port the built-in web server listens on",
            "Which network port do I open in the firewall for {tool}'s web page?",
            ("8000", "8080", "8421", "5173", "9090", "7070", "6543", "8765")),
    Setting("host", "the address the web server binds to",
            "Which network address does {tool}'s web page answer on?",
            ("127.0.0.1", "0.0.0.0", "localhost", "::1")),
    Setting("encoding", "the text encoding used to read input files",
            "Which character set does {tool} assume my files are in?",
            ("utf-8", "latin-1", "utf-16", "cp1252")),
    Setting("max-depth", "how many folder levels are walked below the starting folder",
            "How far down into nested directories does {tool} go?",
            ("3", "5", "8", "10", "16", "32")),
    Setting("compression", "the algorithm used to compress archives",
            "How does {tool} shrink the archives it writes?",
            ("zstd", "gzip", "lz4", "xz", "bzip2", "none")),
    Setting("page-size", "how many results are shown on one page",
            "How many hits does {tool} list before I have to ask for more?",
            ("10", "20", "25", "50", "100")),
    Setting("memory-limit", "the most memory a single job may use",
            "How much RAM can one task of {tool} eat up?",
            ("512 MB", "1 GB", "2 GB", "4 GB", "256 MB")),
    Setting("token-ttl", "how long an access token stays valid",
            "After how long do I have to log in to {tool} again?",
            ("15 minutes", "1 hour", "12 hours", "24 hours", "7 days", "30 days")),
    Setting("queue-size", "how many jobs may wait before new ones are refused",
            "How many pending tasks can pile up in {tool}?",
            ("16", "64", "100", "256", "1024")),
    Setting("color", "whether the output is coloured",
            "Does {tool} paint its terminal output, and when?",
            ("auto", "always", "never")),
    Setting("chunk-size", "the size of each piece a large file is split into",
            "Into what size of pieces does {tool} cut big files?",
            ("1 MB", "4 MB", "8 MB", "16 MB", "64 KB", "512 KB")),
    Setting("delay", "the pause between two requests to the same server",
            "How long does {tool} wait between hits on one website?",
            ("0.5", "1", "2", "5"), "seconds"),
    Setting("history", "how many past commands are remembered",
            "How many earlier commands does {tool} remember?",
            ("100", "500", "1000", "5000", "10000")),
    Setting("locale", "the language of messages and dates",
            "In which language does {tool} talk to me?",
            ("en_US", "de_DE", "fr_FR", "C", "en_GB")),
    Setting("threshold", "the score below which a match is ignored",
            "How good must a match be before {tool} keeps it?",
            ("0.5", "0.6", "0.7", "0.75", "0.8", "0.9")),
)  # fmt: skip


@dataclass(frozen=True)
class Command:
    """A subcommand: what it does in a manual's words and in a user's, and how it is run."""

    task: str  # "rebuild the search index"
    asked: str  # "make the index again from nothing"
    run: str  # "reindex --all": after the program's name


COMMANDS = (
    Command("rebuild the search index", "make the lookup table again from nothing",
            "reindex --all"),
    Command("check the configuration for mistakes", "find errors in my settings file",
            "config validate"),
    Command("list every installed plugin", "see which extensions I have added", "plugins list"),
    Command("remove files that are no longer used", "tidy away leftovers nothing needs",
            "gc --prune"),
    Command("export all records as CSV", "get my data out into a spreadsheet file",
            "export --format csv"),
    Command("show the current version", "find out which release I am running", "--version"),
    Command("start the web interface", "open the browser page", "serve"),
    Command("undo the last migration", "go back one step in the schema history",
            "migrate --rollback 1"),
    Command("create a new project in the current folder", "set up a fresh workspace here",
            "init ."),
    Command("upgrade to the newest release", "move to the latest version", "self-update"),
    Command("print the full configuration", "see every setting in effect right now",
            "config show --all"),
    Command("restore a backup", "get my files back from an earlier copy", "restore --latest"),
    Command("run the test suite", "check that everything still works", "test --all"),
    Command("clear the cache", "throw away what was downloaded before", "cache clear"),
    Command("add a user account", "give someone a login", "users add"),
    Command("import a JSON file", "load data from a .json document", "import --json"),
    Command("watch a folder for changes", "react whenever files in a directory change",
            "watch"),
    Command("sign the release files", "put a signature on what I publish", "sign --key default"),
)  # fmt: skip


@dataclass(frozen=True)
class Fact:
    """A sentence holding one value, and two ways of asking for it."""

    sentence: str  # "{Tool} needs Python {value} or later." ({tool}, {Tool}, {value})
    keyword: str  # asked in the sentence's words
    paraphrase: str  # asked in others
    values: tuple[str, ...]


FACTS = (
    Fact("{Tool} requires Python {value} or later.",
         "Which Python version does {Tool} require?",
         "What is the oldest Python interpreter {Tool} will run on?",
         ("3.8", "3.9", "3.10", "3.11", "3.12")),
    Fact("Files larger than {value} are skipped with a warning.",
         "Which files are skipped with a warning?",
         "Is there a limit on how big an input can be before {Tool} ignores it?",
         ("10 MB", "32 MB", "200 MB", "1 GB")),
    Fact("When another process holds the lock, {tool} exits with status {value}.",
         "What exit status does {tool} use when another process holds the lock?",
         "What code does {tool} return if a second copy is already running?",
         ("2", "3", "4", "5", "7", "75")),
    Fact("The configuration file is read from {value}.",
         "Where is the configuration file read from?",
         "Where should I put my settings file so {Tool} finds it?",
         ("~/.config/{tool}/config.toml", "/etc/{tool}.conf", "./{tool}.yaml", "~/.{tool}rc")),
    Fact("{Tool} is released under the {value} license.",
         "Which license is {Tool} released under?",
         "Am I allowed to reuse {Tool}'s code, and on what terms?",
         ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0", "MPL-2.0")),
    Fact("Version {value} dropped support for Windows 7.",
         "Which version dropped support for Windows 7?",
         "Since which release does {Tool} no longer run on old Windows 7 machines?",
         ("2.0", "3.1", "4.0", "1.8", "5.2")),
    Fact("Logs are rotated once they reach {value}.",
         "When are the logs rotated?",
         "How large can a log file grow before {Tool} starts a new one?",
         ("5 MB", "10 MB", "50 MB", "100 MB")),
    Fact("At most {value} connections are kept open to one server.",
         "How many connections are kept open to one server?",
         "How many sockets does {Tool} hold to a single host at the same time?",
         ("4", "6", "8", "10", "20")),
    Fact("The plugin API was added in version {value}.",
         "In which version was the plugin API added?",
         "Since when can I write extensions for {Tool}?",
         ("1.4", "2.2", "0.9", "3.0", "2.7")),
    Fact("Passwords are hashed with {value} before they are stored.",
         "How are passwords hashed before they are stored?",
         "Does {Tool} keep my password in plain text?",
         ("argon2id", "bcrypt", "scrypt", "PBKDF2-SHA256")),
    Fact("A lock file named {value} is created while a job runs.",
         "Which lock file is created while a job runs?",
         "What file appears in the folder when a task is in progress?",
         (".{tool}.lock", "{tool}.pid", ".lock", "RUNNING")),
    Fact("Sessions expire after {value} of inactivity.",
         "When do sessions expire?",
         "If I walk away from {Tool}, how long until I'm signed out?",
         ("20 minutes", "30 minutes", "2 hours", "8 hours")),
)  # fmt: skip


# program names are made of two of these: new to the model, and never a real tool's
SYLLABLES = words(
    """
    bar bel bri cal cor dan del dro fen fir gal gor hal hep jor kal kev lan lor mab
    mer mol nar nel nev ost pal per qua ral ren rok sal sen tal tev tor ul ven vor
    wen yar zan zel zor
    """
)

SECTIONS = {  # page titles, by what their facts are about
    "settings": ("Configuration", "Settings", "Options", "Tuning", "Reference"),
    "commands": ("Command line", "Usage", "Everyday tasks", "Commands", "Cookbook"),
    "facts": ("FAQ", "Installation", "Notes", "About", "Security", "Limits"),
}

FILLER = (
    "{Tool} is a small program for keeping collections of files in order.",
    "This page describes what can be changed and where.",
    "Most users never need to change these values.",
    "Values given on the command line win over the environment, which wins over the file.",
    "Each of the examples below can be pasted into a terminal as it is.",
    "Changes take effect the next time {tool} starts.",
    "See the changelog for what changed between releases.",
    "{Tool} prints a short summary when it finishes.",
    "If something goes wrong, run it again with a higher log level and read the output.",
    "The defaults suit a laptop; a server may want larger values.",
    "Report bugs on the project's issue tracker, with the version you run.",
    "Nothing here needs administrator rights.",
)
