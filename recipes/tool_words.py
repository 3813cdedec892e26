"""The words ``tool_data`` makes file and folder names (and their contents) from.

A model shown a few file names learns those names; shown a new one almost every time,
it learns to copy the one the user wrote. These lists are long for that reason. None
of them holds a name of ``bench/tools.py``'s files or folders (notes, todo, recipe,
report, ideas, letter, README, guide, prices, util, index; docs, src, data, images,
archive, tests), nor one of ``tool_templates``' missing names: a test checks.
"""

from __future__ import annotations


def words(text: str) -> list[str]:
    """The words of ``text``, each once, sorted."""
    return sorted(set(text.split()))


# common nouns and verbs: a file's stem is one of these, or two joined by _ or -
STEMS = words(
    """
account address agenda alarm album allergy answers apple apron april article attic
audit award baby backlog badge bake bakery balance banana band bank basket battery
beach bees berry bike bills bird birthday blanket blog board boat bonus booking
bottle box brain branch breakfast bridge brief brochure brother brush bucket bug
build bus cabin cafe calendar camera camp candle canvas car card cards cargo
carrot castle cat catalog chair chapter chart check checklist cheese chess cherry
chores city class cleanup client climb clock cloud coach coffee coin
colors comet comments compare compile config contract convert cook cookie costs
cottage count coupon course cousin craft crash credits cup customer cycle daily
dance deadline debts deck deploy design desk diary diet dinner dog door download
draft drawing dream drive drums earth email energy engine errands essay estimate
event exams expenses export fabric family farm feedback fence festival fetch field
film finance fitness flight flower font football forecast forest fox friends fruit
game garage garden garlic gate gifts goals grades grammar greet grocery guests
guitar habits harvest health hiking history hobby holiday homework honey horse
hotel house import income inventory invite invoice island jacket jobs journey juice
kettle keys kids kitchen lab lake lamp launch layout league lemon lesson levels
library lights list loan logo lunch lyrics machine mango map market match meals
medicine members memo menu merge message milestones mirror model money monitor
moon movie music neighbours network news novel ocean office onion orange orders
outline owl packages paint palette parcel park party pasta patch payroll pencil
pets phone photo piano picnic pizza planet plants playlist plot poem poster potato
print profile progress project proposal puzzle queue quiz rabbit race radio rain
receipt release reminders rent repair reply results review rewards river road
robot rocket roof roster route ruler running salary sales sample savings scan
schedule school science scores season seeds sensor server settings setup shelf
shipping shoes sketch sleep slides snacks snow soccer soil song sort spanish
speech sprint stamps start stats status stock storm story street study summary
supplies survey sync tasks tea teacher team tennis theme tickets tiger timer
tomato tour tower track train travel trip tutor update upload vacation values van
vet village vocab volunteer walk wallet watch water weather website wedding week
weekend wishlist words workout yoga zoo
"""
)

# folder names: one of these, or two joined by _ or -, sometimes a year or a number
FOLDERS = words(
    """
accounts admin api app apps assets audio backend bills bin blog books budget build
camera cards chapters clients code config configs course courses css design
desktop dist downloads drafts email events examples exams experiments exports
family figures finance fitness fixtures fonts frontend games garden health
holidays home homework house icons imports inbox invoices jobs js keys kitchen
lectures lessons logs mail maps media meetings misc mobile models money music
 output papers personal pets plans plots posts projects public research
results samples saves school scratch server settings shared sheets site
slides snippets songs sport static stories study styles talks team templates
themes thesis tmp tools travel trips uploads utils web website work
writing
"""
)

# LICENSE-style names, written in capitals and often with no extension
CAPITALS = words("""
LICENSE CHANGES AUTHORS CONTRIBUTING INSTALL COPYING HISTORY NEWS SECURITY CREDITS
THANKS MAINTAINERS NOTICE SUPPORT USAGE FAQ ROADMAP MANIFEST
""")

# what fills a file's contents
NAMES = words("""
Ana Ben Chloe David Elena Farid Grace Hugo Iris Jonas Kemi Liam Maya Noor Oscar
Priya Quinn Rosa Sam Tariq Uma Victor Wen Yusuf Zoe
""")
ADJECTIVES = words("""
blue quick quiet early late small big new shared weekly monthly final spare
""")
