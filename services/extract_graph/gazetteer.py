"""Word lists for the rule-based graph extractor: places, given names, organisation cues, stopwords.

Plain data, general English (not tuned to one corpus). Place and name lists are matched on a
normalised key (see :func:`key`): case-folded, accents and dots removed, so ``U.S.`` matches ``us``
and ``Zürich`` matches ``zurich``. Word lists that steer the tokeniser are matched case-sensitively
on the capitalised form, or on the lower-case form where the name says so.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Literal

PlaceKind = Literal["country", "region", "city"]


@lru_cache(maxsize=65536)
def key(name: str) -> str:
    """Normalised lookup key: accents stripped, case-folded, dots dropped, spaces collapsed."""
    if name.isascii():
        return " ".join(name.replace(".", "").lower().split())
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("’", "'").replace(".", "").casefold()
    return " ".join(plain.split())


def _words(blob: str) -> frozenset[str]:
    """Entries separated by ';' or newlines; surrounding whitespace ignored."""
    return frozenset(e.strip() for e in blob.replace("\n", ";").split(";") if e.strip())


def _keys(blob: str) -> frozenset[str]:
    return frozenset(key(e) for e in _words(blob))


COUNTRIES = _words("""
Afghanistan; Albania; Algeria; Andorra; Angola; Antigua and Barbuda; Antigua; Barbuda; Argentina;
Armenia; Australia; Austria; Azerbaijan; Bahamas; Bahrain; Bangladesh; Barbados; Belarus; Belgium;
Belize; Benin; Bhutan; Bolivia; Bosnia and Herzegovina; Bosnia; Herzegovina; Botswana; Brazil; Brunei;
Bulgaria; Burkina Faso; Burundi; Cabo Verde; Cape Verde; Cambodia; Cameroon; Canada;
Central African Republic; Chad; Chile; China; Colombia; Comoros; Congo; Democratic Republic of the Congo;
Republic of the Congo; DRC; Costa Rica; Côte d'Ivoire; Ivory Coast; Croatia; Cuba; Cyprus;
Czech Republic; Czechia; Denmark; Djibouti; Dominica; Dominican Republic; Ecuador; Egypt; El Salvador;
Equatorial Guinea; Eritrea; Estonia; Eswatini; Swaziland; Ethiopia; Fiji; Finland; France; Gabon;
Gambia; Georgia; Germany; Ghana; Greece; Grenada; Guatemala; Guinea; Guinea-Bissau; Guyana; Haiti;
Honduras; Hungary; Iceland; India; Indonesia; Iran; Iraq; Ireland; Israel; Italy; Jamaica; Japan;
Jordan; Kazakhstan; Kenya; Kiribati; Kuwait; Kyrgyzstan; Laos; Latvia; Lebanon; Lesotho; Liberia;
Libya; Liechtenstein; Lithuania; Luxembourg; Madagascar; Malawi; Malaysia; Maldives; Mali; Malta;
Marshall Islands; Mauritania; Mauritius; Mexico; Micronesia; Moldova; Monaco; Mongolia; Montenegro;
Morocco; Mozambique; Myanmar; Burma; Namibia; Nauru; Nepal; Netherlands; Holland; New Zealand;
Nicaragua; Niger; Nigeria; North Korea; North Macedonia; Macedonia; Norway; Oman; Pakistan; Palau;
Palestine; Panama; Papua New Guinea; Paraguay; Peru; Philippines; Poland; Portugal; Qatar; Romania;
Russia; Russian Federation; Rwanda; Saint Kitts and Nevis; Saint Lucia; Saint Vincent; Samoa;
San Marino; Sao Tome and Principe; Saudi Arabia; Senegal; Serbia; Seychelles; Sierra Leone; Singapore;
Slovakia; Slovenia; Solomon Islands; Somalia; South Africa; South Korea; Korea; South Sudan; Spain;
Sri Lanka; Sudan; Suriname; Sweden; Switzerland; Syria; Taiwan; Tajikistan; Tanzania; Thailand;
Timor-Leste; East Timor; Togo; Tonga; Trinidad and Tobago; Trinidad; Tobago; Tunisia; Turkey; Türkiye;
Turkmenistan; Tuvalu; Uganda; Ukraine; United Arab Emirates; UAE; United Kingdom; UK; U.K.;
Great Britain; Britain; England; Scotland; Wales; Northern Ireland; United States;
United States of America; USA; U.S.A.; US; U.S.; America; Uruguay; Uzbekistan; Vanuatu; Vatican City;
Vatican; Venezuela; Vietnam; Viet Nam; Yemen; Zambia; Zimbabwe; Kosovo; Hong Kong; Macau; Macao;
Puerto Rico; Greenland; Faroe Islands; Bermuda; Cayman Islands; Gibraltar; Guam; Aruba; Curaçao;
New Caledonia; French Polynesia; Tibet
""")

US_STATES = _words("""
Alabama; Alaska; Arizona; Arkansas; California; Colorado; Connecticut; Delaware; Florida; Georgia;
Hawaii; Idaho; Illinois; Indiana; Iowa; Kansas; Kentucky; Louisiana; Maine; Maryland; Massachusetts;
Michigan; Minnesota; Mississippi; Missouri; Montana; Nebraska; Nevada; New Hampshire; New Jersey;
New Mexico; New York; North Carolina; North Dakota; Ohio; Oklahoma; Oregon; Pennsylvania;
Rhode Island; South Carolina; South Dakota; Tennessee; Texas; Utah; Vermont; Virginia; Washington;
West Virginia; Wisconsin; Wyoming; District of Columbia; D.C.
""")

# Provinces, sub-national regions, continents and well-known areas.
REGIONS = _words("""
Ontario; Quebec; British Columbia; Alberta; Manitoba; Saskatchewan; Nova Scotia; New Brunswick;
Newfoundland; Prince Edward Island; Yukon; Nunavut; Northwest Territories; New South Wales; Victoria;
Queensland; Tasmania; Western Australia; South Australia; Northern Territory; Bavaria; Saxony; Hesse;
Baden-Württemberg; North Rhine-Westphalia; Catalonia; Andalusia; Basque Country; Galicia; Lombardy;
Tuscany; Sicily; Sardinia; Provence; Normandy; Brittany; Flanders; Wallonia; Siberia; Punjab; Kerala;
Maharashtra; Karnataka; Tamil Nadu; Gujarat; Bengal; West Bengal; Telangana; Guangdong; Sichuan;
Hokkaido; Okinawa; Patagonia; Lapland; Crimea; Donbas; Kurdistan; Kashmir; Gaza; West Bank;
Silicon Valley; Bay Area; Africa; Antarctica; Asia; Europe; North America; South America;
Latin America; Central America; Oceania; Australasia; Middle East; Far East; Southeast Asia;
South Asia; East Asia; Central Asia; Western Europe; Eastern Europe; Northern Europe; Southern Europe;
Scandinavia; Caribbean; Balkans; Baltics; Sub-Saharan Africa; West Africa; East Africa; North Africa;
Southern Africa; Arctic; Mediterranean; Sahara; Himalayas; Alps; Andes; Midwest; New England
""")

CITIES = _words("""
New York City; NYC; Los Angeles; Chicago; Houston; Phoenix; Philadelphia; San Antonio; San Diego;
Dallas; San Jose; Austin; Jacksonville; Fort Worth; Columbus; Charlotte; San Francisco; Indianapolis;
Seattle; Denver; Boston; El Paso; Nashville; Detroit; Oklahoma City; Portland; Las Vegas; Memphis;
Louisville; Baltimore; Milwaukee; Albuquerque; Tucson; Fresno; Sacramento; Kansas City; Atlanta;
Omaha; Colorado Springs; Raleigh; Miami; Long Beach; Virginia Beach; Oakland; Minneapolis; Tulsa;
Tampa; New Orleans; Cleveland; Pittsburgh; Cincinnati; St. Louis; Saint Louis; Orlando;
Salt Lake City; Honolulu; Anchorage; Buffalo; Newark; Palo Alto; Mountain View; Menlo Park;
Cupertino; Redmond; Sunnyvale; Santa Clara; Cambridge; Berkeley; Boulder; Ann Arbor; Princeton;
New Haven; Durham; Madison; Richmond; Hartford; Providence; Charleston; Savannah; Des Moines; Boise;
Spokane; Reno; Santa Monica; Pasadena; Hoboken; Brooklyn; Manhattan; Queens; Bronx; Toronto;
Montreal; Vancouver; Calgary; Edmonton; Ottawa; Winnipeg; Quebec City; Halifax; Waterloo;
Mexico City; Guadalajara; Monterrey; Tijuana; Cancún; Havana; San Juan; Panama City; Bogotá;
Medellín; Cali; Caracas; Quito; Lima; La Paz; Santiago; Buenos Aires; Córdoba; Montevideo; Asunción;
São Paulo; Rio de Janeiro; Brasília; Salvador; Belo Horizonte; Recife; Porto Alegre; Curitiba;
Guatemala City; Managua; Tegucigalpa; San Salvador; Santo Domingo; Kingston; London; Manchester;
Birmingham; Liverpool; Leeds; Glasgow; Edinburgh; Bristol; Oxford; Belfast; Cardiff; Sheffield;
Newcastle; Nottingham; Southampton; Dublin; Cork; Paris; Marseille; Lyon; Toulouse; Nice; Bordeaux;
Lille; Strasbourg; Nantes; Montpellier; Brussels; Antwerp; Ghent; Amsterdam; Rotterdam; The Hague;
Hague; Utrecht; Eindhoven; Berlin; Hamburg; Munich; Cologne; Frankfurt; Stuttgart; Düsseldorf;
Leipzig; Dresden; Hanover; Nuremberg; Bremen; Bonn; Heidelberg; Vienna; Salzburg; Graz; Zurich;
Geneva; Basel; Bern; Lausanne; Madrid; Barcelona; Valencia; Seville; Bilbao; Málaga; Lisbon; Porto;
Rome; Milan; Naples; Turin; Florence; Venice; Bologna; Genoa; Palermo; Athens; Thessaloniki;
Copenhagen; Aarhus; Stockholm; Gothenburg; Malmö; Oslo; Bergen; Helsinki; Espoo; Reykjavik; Tallinn;
Riga; Vilnius; Warsaw; Kraków; Wrocław; Gdańsk; Prague; Brno; Bratislava; Budapest; Bucharest;
Cluj-Napoca; Sofia; Belgrade; Zagreb; Ljubljana; Sarajevo; Skopje; Tirana; Podgorica; Chisinau; Kyiv;
Kiev; Kharkiv; Odesa; Odessa; Lviv; Minsk; Moscow; Saint Petersburg; St. Petersburg; Novosibirsk;
Yekaterinburg; Kazan; Istanbul; Ankara; Izmir; Nicosia; Valletta; Tel Aviv; Jerusalem; Haifa; Beirut;
Damascus; Amman; Baghdad; Tehran; Riyadh; Jeddah; Mecca; Medina; Dubai; Abu Dhabi; Doha; Kuwait City;
Manama; Muscat; Sanaa; Cairo; Alexandria; Casablanca; Rabat; Marrakesh; Algiers; Tunis; Tripoli;
Khartoum; Addis Ababa; Nairobi; Mombasa; Kampala; Kigali; Dar es Salaam; Lagos; Abuja; Accra; Dakar;
Abidjan; Kinshasa; Luanda; Johannesburg; Cape Town; Durban; Pretoria; Harare; Lusaka; Maputo;
Windhoek; Gaborone; Antananarivo; Tokyo; Osaka; Kyoto; Yokohama; Nagoya; Sapporo; Fukuoka; Kobe;
Seoul; Busan; Incheon; Pyongyang; Beijing; Shanghai; Shenzhen; Guangzhou; Hangzhou; Chengdu; Wuhan;
Nanjing; Tianjin; Chongqing; Xi'an; Suzhou; Taipei; Kaohsiung; Hsinchu; Manila; Cebu; Quezon City;
Jakarta; Surabaya; Bandung; Bali; Kuala Lumpur; Penang; Bangkok; Chiang Mai; Phuket; Hanoi;
Ho Chi Minh City; Saigon; Phnom Penh; Vientiane; Yangon; Dhaka; Chittagong; Kathmandu; Colombo;
Karachi; Lahore; Islamabad; Kabul; Delhi; New Delhi; Mumbai; Bombay; Bangalore; Bengaluru; Chennai;
Madras; Hyderabad; Kolkata; Calcutta; Pune; Ahmedabad; Jaipur; Tashkent; Almaty; Astana; Baku;
Tbilisi; Yerevan; Ulaanbaatar; Sydney; Melbourne; Brisbane; Perth; Adelaide; Canberra; Hobart;
Darwin; Gold Coast; Auckland; Wellington; Christchurch; Suva; Port Moresby
""")

PLACES: dict[str, PlaceKind] = {}
for _name in CITIES:
    PLACES[key(_name)] = "city"
for _name in REGIONS | US_STATES:
    PLACES[key(_name)] = "region"
for _name in COUNTRIES:
    PLACES[key(_name)] = "country"
# A city that shares its name with a state or country ("New York", "Washington") counts as a
# container (region/country), so "Seattle, Washington" reads as city-in-state.

# Trailing words that make a capitalised phrase a place ("Salt Lake City", "Hudson River").
PLACE_SUFFIXES = _words("""
City; County; Province; Prefecture; River; Valley; Island; Islands; Peninsula; Coast; Heights;
Township; Borough; Bay; Mountains; Desert; Sea; Ocean; Gulf; Strait; Canyon; Tower; Bridge; Airport;
Stadium; Square; Street; Avenue; Road; Boulevard; Palace; Castle; Cathedral; Harbour; Harbor
""")
# Leading words with the same effect ("Lake Geneva", "Mount Everest").
PLACE_PREFIXES = _words("Lake; Mount; Mt; Cape; Port; Fort; Gulf; Isle")

# Given names, international; a capitalised word from this list followed by another capitalised
# word reads as a person. Deliberately excludes names that are far more often common words.
GIVEN_NAMES = _words("""
James; John; Robert; Michael; William; David; Richard; Joseph; Thomas; Charles; Christopher; Daniel;
Matthew; Anthony; Mark; Donald; Steven; Stephen; Paul; Andrew; Joshua; Kenneth; Kevin; Brian; George;
Timothy; Ronald; Edward; Jason; Jeffrey; Jeff; Ryan; Jacob; Gary; Nicholas; Eric; Jonathan; Larry;
Justin; Scott; Brandon; Benjamin; Samuel; Gregory; Alexander; Frank; Patrick; Raymond; Jack; Dennis;
Jerry; Tyler; Aaron; Jose; José; Adam; Nathan; Henry; Douglas; Zachary; Peter; Kyle; Ethan; Walter;
Noah; Jeremy; Christian; Keith; Roger; Terry; Gerald; Harold; Sean; Carl; Arthur; Lawrence; Dylan;
Jesse; Jordan; Bryan; Billy; Joe; Bruce; Gabriel; Logan; Albert; Willie; Alan; Allan; Juan; Wayne;
Elijah; Randy; Roy; Vincent; Ralph; Eugene; Russell; Bobby; Mason; Philip; Phillip; Louis; Liam;
Oliver; Lucas; Leo; Oscar; Harry; Charlie; Max; Sam; Tom; Tim; Bob; Bill; Jim; Mike; Dave; Steve;
Chris; Matt; Ben; Dan; Nick; Tony; Ian; Neil; Simon; Graham; Martin; Colin; Hugh; Rupert; Elon;
Warren; Sergey; Satya; Sundar; Guido; Linus; Reed; Travis; Marc; Jensen; Lisa; Mary; Patricia;
Jennifer; Linda;
Elizabeth; Barbara; Susan; Jessica; Sarah; Karen; Nancy; Betty; Margaret; Sandra; Ashley; Kimberly;
Emily; Donna; Michelle; Carol; Amanda; Dorothy; Melissa; Deborah; Stephanie; Rebecca; Sharon; Laura;
Cynthia; Kathleen; Amy; Angela; Shirley; Anna; Brenda; Pamela; Emma; Nicole; Helen; Samantha;
Katherine; Catherine; Christine; Debra; Rachel; Carolyn; Janet; Maria; Heather; Diane; Ruth; Julie;
Olivia; Joyce; Virginia; Victoria; Kelly; Lauren; Christina; Joan; Evelyn; Judith; Megan; Andrea;
Cheryl; Hannah; Jacqueline; Martha; Gloria; Teresa; Theresa; Ann; Anne; Sara; Madison; Frances;
Kathryn; Janice; Jean; Abigail; Alice; Judy; Sophia; Grace; Denise; Amber; Doris; Marilyn; Danielle;
Beverly; Isabella; Diana; Natalie; Brittany; Charlotte; Marie; Kayla; Alexis; Lori; Jane; Claire;
Chloe; Lucy; Sophie; Ella; Mia; Ava; Amelia; Zoe; Jenny; Kate; Katie; Jill; Fiona; Eleanor; Florence;
Ruby; Iris; Ada; Tanya; Vanessa; Monica; Erin; Holly; Sheryl; Marissa; Ginni; Safra; Indra; Susie;
Carlos; Luis; Miguel; Jorge; Pedro; Alejandro; Diego; Javier; Fernando; Rafael; Manuel; Antonio;
Francisco; Pablo; Sergio; Andrés; Ricardo; Eduardo; Roberto; Mateo; Santiago; João; Tiago; Rodrigo;
Gustavo; Felipe; Lucia; Lucía; Sofía; Sofia; Valentina; Camila; Isabel; Carmen; Ana; Elena; Paula;
Marta; Beatriz; Gabriela; Fernanda; Juliana; Mariana; Carolina; Daniela; Alejandra; Pilar; Inés;
Pierre; Jacques; Michel; François; Philippe; Nicolas; Antoine; Julien; Emmanuel; Olivier; Laurent;
Sébastien; Mathieu; Guillaume; Hugo; Théo; Camille; Chloé; Léa; Manon; Isabelle; Nathalie; Céline;
Amélie; Élodie; Brigitte; Hans; Klaus; Jürgen; Stefan; Andreas; Markus; Wolfgang; Uwe; Dieter;
Matthias; Sebastian; Lukas; Felix; Jonas; Maximilian; Florian; Tobias; Moritz; Johannes; Karl;
Friedrich; Heinrich; Günter; Ursula; Monika; Petra; Sabine; Claudia; Katrin; Anja; Lena; Hanna; Greta;
Heidi; Ingrid; Astrid; Sven; Lars; Erik; Anders; Nils; Magnus; Björn; Olaf; Henrik; Mikael; Johan;
Jan; Pieter; Joost; Sanne; Femke; Annika; Freya; Sigrid; Linnea; Elin; Maja; Giuseppe; Giovanni;
Marco; Luca; Matteo; Alessandro; Francesco; Lorenzo; Stefano; Paolo; Giulia; Chiara; Francesca;
Federica; Alessia; Martina; Silvia; Ivan; Dmitri; Dmitry; Sergei; Alexei; Alexey; Andrei; Andrey;
Nikolai; Mikhail; Vladimir; Pavel; Oleg; Yuri; Igor; Boris; Viktor; Piotr; Tomasz; Krzysztof; Paweł;
Jakub; Katarzyna; Agnieszka; Olga; Natalia; Tatiana; Svetlana; Irina; Anastasia; Ekaterina; Yulia;
Oksana; Marek; Petr; Jana; Zoran; Dragan; Nikola; Georgios; Nikos; Dimitris; Yannis; Eleni; Mehmet;
Mustafa; Ahmet; Emre; Burak; Ayşe; Fatma; Zeynep; Elif; Mohammed; Muhammad; Mohamed; Ahmed; Ahmad;
Omar; Hassan; Hussein; Ibrahim; Youssef; Yusuf; Khalid; Tariq; Karim; Rami; Samir; Fatima; Aisha;
Layla; Leila; Mariam; Maryam; Nour; Noor; Yasmin; Zainab; Reza; Mehdi; Amir; Darius; Parisa; Shirin;
Raj; Rahul; Amit; Anil; Arjun; Vikram; Ravi; Sanjay; Suresh; Ramesh; Rajesh; Vijay; Arun; Deepak;
Aditya; Rohan; Karan; Nikhil; Sunil; Ashok; Sachin; Priya; Anjali; Pooja; Neha; Kavya; Divya; Sunita;
Lakshmi; Deepika; Meera; Shreya; Ananya; Arvind; Mukesh; Ratan; Imran; Bilal; Hamza; Ayesha; Saira;
Wei; Jing; Ming; Hui; Xin; Lei; Jun; Hao; Xiaoming; Mei; Ling; Hiroshi; Takeshi; Kenji; Yuki; Haruto;
Akira; Satoshi; Naoki; Daisuke; Kazuo; Masayoshi; Yoko; Keiko; Haruka; Sakura; Aiko; Yumi; Min-jun;
Ji-ho; Seo-yeon; Ji-woo; Kwame; Kofi; Chinedu; Ngozi; Oluwaseun; Adebayo; Chidi; Amara; Thabo;
Sipho; Nomvula; Wanjiru; Amina; Abebe; Tendai; Fatou; Moussa; Aliyu; Emeka; Chiamaka; Olusegun;
Folake; Akua; Zanele; Alex; Alexandra; Gustav; Emil; Oskar; Axel; Frederik; Rasmus; Jamie; Dana;
Nadia; Natasha; Greg; Doug; Rick; Ron; Ken; Jon; Josh; Zach; Nate; Ted; Fred; Frederick; Ray; Jay;
Kai; Ali; Brad; Chad; Craig; Derek; Gavin; Glenn; Jared; Joel; Luke; Marcus; Nathaniel; Owen; Seth;
Shane; Todd; Trevor; Troy; Wesley; Beth; Brooke; Caroline; Courtney; Hailey; Jasmine; Kristen;
Leslie; Lindsay; Molly; Paige; Sabrina; Tara; Tiffany; Valerie; Whitney; Wendy; Yvonne; Naomi;
Miriam; Esther; Leah; Abby; Eva; Nina; Vera; Alina; Kira; Daria; Sam; Samuel
""")

# Family names that come first in East Asian names ("Li Wei", "Kim Min-jun").
FAMILY_FIRST = _words("""
Wang; Li; Zhang; Liu; Chen; Yang; Huang; Zhao; Wu; Zhou; Xu; Zhu; Guo; Lin; Gao; Luo; Zheng;
Liang; Xie; Tang; Kim; Lee; Choi; Jung; Kang; Cho; Yoon; Jang; Nguyen; Tran; Pham; Hoang
""")

# Words that make the capitalised phrase they end an organisation ("Acme Corp", "Stanford University").
ORG_SUFFIXES = _words("""
Inc; Incorporated; Corp; Corporation; Ltd; Limited; LLC; LLP; LP; PLC; Plc; GmbH; AG; SA; S.A; SE;
NV; N.V; BV; B.V; SpA; SAS; Oy; AB; ASA; KK; Pty; Co; Company; Companies; Group; Holdings; Labs; Lab;
Laboratories; Laboratory; Analytics; Systems; Technologies; Technology; Tech; Software; Solutions;
Networks; Partners; Associates; Capital; Ventures; Bank; Bancorp; Foundation; Agency; Ministry;
Council; Institute; University; College; School; Academy; Hospital; Clinic; Society; Association;
Federation; Union; Committee; Commission; Authority; Department; Bureau; Board; Trust; Fund;
Consulting; Industries; Enterprises; Motors; Airlines; Airways; Pharmaceuticals; Pharma;
Therapeutics; Biosciences; Biotech; Media; Studios; Entertainment; Records; Publishing; Electronics;
Semiconductor; Semiconductors; Microsystems; Robotics; Dynamics; Energy; Logistics; Communications;
Telecom; Insurance; Securities; Investments; Properties; Realty; Services; Research; Cooperative;
Co-op; Organization; Organisation; Alliance; Consortium; Centre; Center; Exchange; Institution;
Institutes; Museum; Parliament; Senate; Congress; Assembly; Church; League; Club; Team;
Brands; Foods; Motor; Aerospace; Bioscience; Health; Healthcare; Digital; Interactive; Games;
Automotive; Petroleum; Chemicals; Chemical; Steel; Mining; Railway; Railways; Shipping; Financial;
Hotels; Resorts; Telecommunications; Broadcasting; Cosmetics; Apparel; Beverages; Brewing; Bancshares
""")

# Suffixes that make a phrase an organisation even when its other words are common words
# ("General Motors Corp"); the other ORG_SUFFIXES need a non-common word ("Acme Analytics", not
# "Data Analytics").
LEGAL_SUFFIXES = _words("""
Inc; Incorporated; Corp; Corporation; Ltd; Limited; LLC; LLP; LP; PLC; Plc; GmbH; AG; SA; S.A; SE;
NV; N.V; BV; B.V; SpA; SAS; Oy; AB; ASA; KK; Pty; Co; Company; Holdings; Bancorp
""")

# Words that, at the head of "<Word> of <Name>", make the phrase an organisation
# ("Bank of America", "University of Oxford", "Ministry of Defence").
ORG_HEADS = _words("""
University; Institute; Bank; Ministry; Department; Council; Bureau; College; School; Academy;
Society; Association; Federation; Commission; Office; Board; Church; Museum; Library; Agency;
Corporation; Company; Foundation; Center; Centre; Laboratory; Hospital; Chamber; Parliament; Senate;
Congress; Assembly; League; Union; Organization; Organisation; Court; Government; Administration;
Authority; Order; Army; Navy
""")

# Legal-form suffixes that may follow a comma ("Acme, Inc.").
COMMA_SUFFIXES = _words("Inc; Incorporated; LLC; Ltd; Corp; GmbH; AG; SA; PLC; LLP; LP; NV; BV")

# Personal titles that introduce a person's name.
TITLES = _words("Dr; Mr; Mrs; Ms; Mx; Prof; Professor; Sir; Dame; Rev")

# Capitalised job titles: they break capitalised phrases ("Acme CEO Jane Doe") and cue a person.
ROLE_WORDS = _words("""
CEO; CTO; CFO; COO; CIO; CMO; CSO; CPO; CISO; VP; SVP; EVP; President; Vice; Chairman; Chairwoman;
Chairperson; Director; Founder; Co-founder; Co-Founder; Cofounder; Chief; Officer; Executive; Senior;
Managing; Head; Deputy; Minister; Prime; Secretary; Governor; Mayor; Senator; Spokesperson;
Spokesman; Spokeswoman; Engineer; Manager; Chancellor; Ambassador; Commissioner; Treasurer; Analyst;
Researcher; Scientist; Chair
""")

MONTHS = _words("""
January; February; March; April; May; June; July; August; September; October; November; December;
Feb; Apr; Jun; Jul; Aug; Sep; Sept; Oct; Nov; Dec
""")
WEEKDAYS = _words("""
Monday; Tuesday; Wednesday; Thursday; Friday; Saturday; Sunday; Tue; Tues; Thu; Thur; Thurs
""")

# Lower-case function words and common sentence openers; capitalised, they never start a name.
STOPWORDS = _words("""
a; an; the; this; that; these; those; it; its; it's; he; she; they; we; i; you; me; him; her; us;
them; our; their; his; my; your; mine; ours; theirs; who; whom; whose; which; what; when; where; why;
how; however; moreover; furthermore; also; but; and; or; nor; so; yet; in; on; at; for; from; with;
by; to; of; as; after; before; during; while; if; although; though; because; since; unless; until;
today; yesterday; tomorrow; tonight; meanwhile; nevertheless; nonetheless; instead; thus; therefore;
hence; still; then; there; here; now; some; many; most; all; each; every; both; either; neither; no;
not; several; few; other; another; such; last; next; first; second; third; finally; according;
despite; under; over; between; among; within; without; through; across; about; above; below;
recently; currently; previously; earlier; later; overall; additionally; similarly; likewise;
notably; indeed; perhaps; please; note; yes; once; only; even; just; is; are; was; were; be; been;
being; do; does; did; has; have; had; can; could; will; would; shall; should; may; might; must; let;
more; less; much; very; too; well; again; also; any; anyone; anything; everyone; everything;
someone; something; nobody; nothing; none; one; two; three; four; five; six; seven; eight; nine; ten;
whether; whereas; otherwise; besides; regardless; unlike; like; via; per; against; along; around;
beyond; toward; towards; upon; onto; into; out; off; up; down; whatever; whoever; whichever; thanks;
given; including; regarding; following; based; using; although; still; ago; so-called; sure; ok;
okay; hello; hi; dear; figure; table; section; chapter; step; part; see; also; e.g; i.e; etc; vs;
we've; we're; we'll; we'd; i'm; i've; i'll; i'd; you're; you've; you'll; they're; they've; they'll;
it's; that's; there's; here's; what's; let's; don't; doesn't; didn't; can't; won't; isn't; aren't;
wasn't; weren't; haven't; hasn't; shouldn't; wouldn't; couldn't; he's; she's; who's
""")

# Imperative or reporting verbs that open sentences, list items and changelog entries
# ("Drop Python 3.7 support", "Use Kafka for ..."); never the start of a name there.
OPENER_VERBS = _words("""
add; added; adds; fix; fixed; fixes; drop; dropped; drops; remove; removed; removes; update;
updated; updates; bump; bumped; use; used; uses; support; supports; allow; allows; improve;
improved; deprecate; deprecated; replace; replaced; return; returns; install; run; set; get; make;
create; build; check; ensure; move; moved; rename; renamed; refactor; implement; implemented;
introduce; introduced; backport; unpack; enable; disable; change; changed; release; released;
upgrade; document; documented; configure; define; call; read; write; open; close; start; stop;
click; select; choose; try; consider; imagine; follow; visit; contact; download; import; export;
increase; decrease; reduce; avoid; prefer; require; requires; provide; provides; include; includes;
contains; show; shows; welcome; meet; join; thank; thanks; congratulations
""")

# Stopwords that may still sit inside a name mid-sentence ("Capital One", "Formula One").
NAME_INNER_WORDS = _words("one; two; three; four; five; six; seven; eight; nine; ten; first; second; third")

# Heads of "<Word> <number>" phrases that are not products ("Section 3", "Route 66").
NON_PRODUCT_HEADS = _words("""
Section; Chapter; Table; Figure; Fig; Phase; Article; Part; Step; Level; Page; Appendix; Item; Rule;
Clause; Room; Route; Highway; Interstate; Floor; Building; Suite; Unit; Stage; Round; Week; Day;
Year; Quarter; Q; Version; Volume; Vol; Issue; No; Number; Grade; Class; Type; Category; Tier;
Episode; Season; Act; Scene; Lot; Gate; Terminal; Block; Zone; Sector; Apartment; Flight; Box;
Exhibit; Schedule; Annex; Paragraph; Line; Row; Column; Lane; Team; Division; District; Ward;
Precinct; Station; Platform; Track; Pier; Hall; Form; Note; Footnote; Equation; Eq; Theorem; Lemma;
Example; Exercise; Problem; Question; Task; Test; Sample; Batch; Case; Patient; Subject;
Participant; War; Top; Series; Covid; COVID; Group; Bus; Road; Street; Avenue; Ave; Pages; Figures;
Tables; Sections; Chapters; Steps; Days; Weeks; Years; Amendment; Title; Stage; Grades; Cohort;
PEP; RFC; ISO; IEC; IEEE; ECMA; ANSI; DIN; EN; UTF; Unicode; ID; Id; Ref; Art; Vol; Rev; Nr; Fig;
Chap; Sec; Eqs; Ex; Tab; Pt; Pg; Para; Level; Size; Limit; LIMIT; Top; Max; Min
""")

# ISO 4217 codes of common currencies: "EUR 48" is a price, not a product (PHP stays: a language).
CURRENCY_CODES = _words("""
EUR; USD; GBP; CHF; JPY; CNY; RMB; SEK; NOK; DKK; ISK; PLN; CZK; HUF; RON; BGN; AUD; CAD; NZD; INR;
BRL; ZAR; KRW; SGD; HKD; MXN; TRY; ILS; AED; SAR; THB; IDR; MYR; TWD; ARS; CLP; COP; UAH
""")

# Prefixes of hyphenated codes that name no product: standards, vulnerabilities, ciphers, fiscal years.
NON_PRODUCT_CODES = _words("CVE; CWE; SHA; AES; RSA; FY; GDPR; NIST; SOC; PCI; TLS; SSL; HTTP")

# Final words that rule out a person reading ("Jordan Valley", "Victoria Street").
NON_PERSON_LAST = _words("""
Street; St; Avenue; Ave; Road; Rd; Boulevard; Square; Park; Bridge; River; Lake; Mountain; Island;
Valley; Hall; Building; Tower; Station; Airport; Stadium; Arena; Center; Centre; Plaza; Bay; Beach;
County; City; Hotel; Prize; Award; Act; Law; Cup; Day; Street; Way; Drive; Lane; Place; Court;
Gardens; Garden; Palace; Castle; Cathedral; Theatre; Theater; Project; Program; Programme; Index;
Report; Review; Times; Post; Journal; News; Herald; Gazette; Magazine; Tribune; Daily; Weekly
""")

# Lower-case nouns that mark the capitalised phrase before them as a product ("the Falcon router").
PRODUCT_NOUNS = _words("""
product; platform; app; application; software; device; service; tool; toolkit; framework; library;
engine; suite; model; chip; chipset; processor; phone; smartphone; handset; laptop; notebook; tablet;
router; console; database; sdk; api; plugin; plug-in; browser; vehicle; car; truck; drone; aircraft;
airliner; camera; headset; smartwatch; assistant; chatbot; operating system; os; game; drug; vaccine;
robot; satellite; rocket; sensor; printer; appliance; wearable; line; series; lineup; range; editor;
compiler; language; programming language; cloud; gpu; cpu; server; wallet; protocol; extension;
system; package; module; runtime; interpreter; package manager; simulator; emulator
""")

# Lower-case nouns that make "X is a <noun>" a concept definition.
CONCEPT_NOUNS = _words("""
concept; technique; method; methodology; field; approach; algorithm; discipline; theory; paradigm;
principle; pattern; notion; phenomenon; heuristic; practice; subfield; sub-field; subdiscipline
""")

# Lower-case nouns for "X is a <noun> of Y": X and Y are concepts; the first group reads as PART_OF.
PART_NOUNS = _words("""
part; subfield; sub-field; branch; subset; area; component; subdiscipline; element; module; stage;
step; layer
""")
KIND_NOUNS = _words("type; kind; form; variant; variety; generalization; generalisation; extension")

# Nationality and regional adjectives: alone they are not entities ("a Japanese manufacturer").
DEMONYMS = _words("""
Afghan; Albanian; Algerian; American; Andorran; Angolan; Argentine; Argentinian; Armenian;
Australian; Austrian; Azerbaijani; Bahamian; Bahraini; Bangladeshi; Belarusian; Belgian; Bolivian;
Bosnian; Brazilian; British; Bulgarian; Burmese; Cambodian; Cameroonian; Canadian; Chadian; Chilean;
Chinese; Colombian; Congolese; Croatian; Cuban; Cypriot; Czech; Danish; Dominican; Dutch; Ecuadorian;
Egyptian; Emirati; English; Eritrean; Estonian; Ethiopian; Fijian; Filipino; Finnish; French;
Georgian; German; Ghanaian; Greek; Guatemalan; Haitian; Honduran; Hungarian; Icelandic; Indian;
Indonesian; Iranian; Iraqi; Irish; Israeli; Italian; Ivorian; Jamaican; Japanese; Jordanian; Kazakh;
Kenyan; Korean; Kuwaiti; Lao; Latvian; Lebanese; Liberian; Libyan; Lithuanian; Luxembourgish;
Malagasy; Malaysian; Malian; Maltese; Mexican; Moldovan; Mongolian; Montenegrin; Moroccan;
Mozambican; Namibian; Nepalese; Nepali; Nigerian; Norwegian; Omani; Pakistani; Palestinian;
Panamanian; Paraguayan; Persian; Peruvian; Polish; Portuguese; Qatari; Romanian; Russian; Rwandan;
Saudi; Scottish; Senegalese; Serbian; Singaporean; Slovak; Slovenian; Somali; Spanish; Sri Lankan;
Sudanese; Swedish; Swiss; Syrian; Taiwanese; Tajik; Tanzanian; Thai; Tunisian; Turkish; Turkmen;
Ugandan; Ukrainian; Uruguayan; Uzbek; Venezuelan; Vietnamese; Welsh; Yemeni; Zambian; Zimbabwean;
African; Asian; European; Arab; Arabic; Latin; Nordic; Scandinavian; Western; Eastern; Northern;
Southern; Central; Middle; Atlantic; Pacific; Mediterranean; Caribbean; Balkan; Baltic; Soviet;
Californian; Texan; Bavarian; Catalan; Flemish; Hispanic; Anglo; Sino; Euro; Islamic; Christian;
Jewish; Muslim; Hindu; Buddhist; Catholic; Protestant; Orthodox; Celtic; Nordic; Québécois; Kiwi
""")
