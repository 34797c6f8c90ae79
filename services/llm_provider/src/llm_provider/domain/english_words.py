"""Small built-in English lexicon for the offline judge's spelling heuristic.

Not a dictionary: about a thousand frequent words (base forms; inflections are recognised by
suffix stripping), the discourse connectives essays use, and frequent learner misspellings.
A word outside the list is only counted as an error when it looks like a typo of a listed word.
"""

from __future__ import annotations

_COMMON = """
a able about above abroad absolutely accept access according account achieve across act action
active activity actually add addition address admit adult advance advantage advice affect afford
afraid after afternoon again against age agency ago agree agreement ahead aim air all allow almost
alone along already also although always amazing among amount an analysis ancient and animal
announce annual another answer any anyone anything anyway apart appear apply approach appropriate
area argue argument arm around arrive art article artist as ask aspect assess assignment assume at
attack attempt attend attention attitude audience author authority available average avoid award
aware away baby back bad bag balance ball bank bar base basic basis be beach bear beat beautiful
beauty because become bed before begin behaviour behavior behind being belief believe belong below
benefit beside best better between beyond big bill biology bird birth bit black blood blue board
boat body book border born both bottom box boy brain break breakfast bridge brief bright bring
brother brown budget build building burden business busy but buy by call calm camera campaign can
cancer candidate capable capital car card care career careful carry case cat catch cause cell
central centre center century certain certainly chain chair challenge chance change chapter
character charge cheap check chemical child childhood choice choose church citizen city civil
claim class classroom clean clear clearly climate close clothes cloud club coast code cold
collect college colour color come comfortable common communicate communication community company
compare comparison compete competition complete completely complex computer concept concern
conclude conclusion condition conference confidence conflict connect connection consequence
consider considerable constant consumer contact contain content context continue contrast
contribute control conversation cook cool copy corner correct cost could council count country
couple courage course court cover create creative crime crisis critical criticism crowd cultural
culture cup current customer cut cycle daily damage danger dangerous dark data date daughter day
dead deal dear death debate decade decide decision declare decline deep defend define definitely
degree deliver demand democracy depend describe description design desire despite detail
determine develop development device die diet difference different difficult dinner direct
direction director discover discuss discussion disease distance divide do doctor dog door double
doubt down draw dream dress drink drive drop drug during duty each ear early earn earth easily
east easy eat economic economy edge education educational effect effective effort either elderly
election element else emerge emotion emotional employ employee employer employment empty enable
encourage end enemy energy enjoy enough ensure enter entire environment environmental equal
equipment error escape especially essay essential establish even evening event eventually ever
every everybody everyone everything evidence exactly exam examine example excellent except
exchange exciting exercise exist expect expensive experience experiment expert explain
explanation explore express expression extend extra extreme eye face fact factor fail failure fair
faith fall false familiar family famous far farm fast father fault fear feature feel feeling
female few field fight figure fill film final finally financial find fine finger finish fire firm
first fish fit fix flat flight floor flow flower fly focus follow food foot for force foreign
forest forget form formal former forward free freedom friend friendly from front fruit full fully
fun function fund funny future gain game garden gas general generally generation get girl give
glad glass global go goal god good government grade great green ground group grow growth guess
guest guide gun guy habit hair half hall hand handle happen happy hard hardly harm hate have he
head health healthy hear heart heat heavy help her here herself high highly him himself his
historical history hit hold hole holiday home hope horse hospital hot hotel hour house household
how however huge human hundred hungry husband idea identify identity if ignore ill illegal image
imagine immediately impact importance important impossible improve improvement in include income
increase increasingly indeed independent indicate individual industry influence inform
information initial injury inside insist instance instead institution intelligence intend
interest interesting international internet interview into introduce introduction invest
investigate involve island issue it item its itself job join journey judge just justice keep key
kid kill kind king kitchen know knowledge lack land language large last late later laugh law
lawyer lay lead leader learn least leave left leg legal less lesson let letter level library lie
life light like likely limit line link list listen literature little live local long look lose
loss lot love low luck lucky machine main mainly maintain major majority make male man manage
management manner many market marriage matter may maybe me meal mean meaning measure media
medical meet meeting member memory mental mention message method middle might military mind
minister minute miss mistake model modern moment money month mood moral more moreover morning
most mother motivation mountain mouth move movement much music must my myself name nation
national natural nature near nearly necessary need negative neighbour neighbor neither never
nevertheless new news newspaper next nice night no nobody noise none nor normal north not note
nothing notice novel now number nurse object obtain obvious obviously occasion occur of off offer
office officer official often oil okay old on once one online only onto open operate opinion
opportunity oppose option or order ordinary organisation organization organise organize origin
original other others otherwise our ourselves out outside over overall own owner page pain paint
pair paper parent park part participate particular particularly partly partner party pass past
patient pattern pay peace people per perfect perform performance perhaps period permanent person
personal perspective persuade phone physical pick picture piece place plan planet plant play
player please pleasure plenty poem poet point police policy political politician politics poor
popular population position positive possibility possible possibly post potential poverty power
powerful practical practice prefer prepare presence present president press pressure pretty
prevent previous price pride primary prime principle print prior priority prison private
probably problem procedure process produce product production profession professional profit
program programme progress project promise promote proof proper property proposal protect
protection prove provide public pull punish purpose pursue push put quality question quick
quickly quiet quite race raise range rare rate rather reach react read ready real reality realise
realize really reason reasonable receive recent recently recognise recognize recommend record
reduce refer reflect reform refuse regard region regular relate relationship relative relatively
release relevant religion religious rely remain remember remind remove repeat replace reply report
represent require research resource respect respond response responsibility responsible rest
result return reveal rich ride right rise risk river road rock role room rule run safe safety
salary sale same save say scene school science scientific scientist sea search season second
secret section sector secure security see seek seem select sell send sense sentence separate
series serious serve service set several severe sex shake shape share she shift ship shoe shop
short should show side sign significant significantly similar simple simply since sing single
sister sit site situation size skill skin sleep slightly slow small smart smile so social society
soft software soil solution solve some somebody someone something sometimes son song soon sorry
sort sound source south space speak special species specific speech speed spend spirit sport
spread spring staff stage stand standard star start state statement station stay step still stop
store story straight strange strategy street strength stress strong structure struggle student
study stuff style subject succeed success successful such sudden suffer suggest summer sun
support suppose sure surface surprise survey survive system table take talk task taste tax
teach teacher team technology teenager television tell tend term terrible test text than thank
that the their them theme themselves then theory there therefore these they thing think third
this those though thought thousand threat three through throughout thus time tiny to today
together tomorrow tonight too tool top topic total touch tough tourist toward towards town trade
tradition traditional traffic train training travel treat treatment tree trend trial trip
trouble true trust truth try turn type typical under understand understanding unemployment
unfortunately union unique unit university unless unlike until up upon urban us use used useful
usual usually valuable value variety various vehicle version very via victim view village
violence visit voice vote wage wait walk wall want war warm warn wash waste watch water way we
weak wealth weapon wear weather week weight welcome well west what whatever when where whereas
whether which while white who whole whom whose why wide wife will win wind window winter wish
with within without woman wonder wonderful word work worker world worry worse worst worth would
write writer writing wrong yard year yes yet you young your yourself youth zone
am are is was were been has had does did done went gone made said took taken gave given came
knew known thought brought bought found told became began felt kept left lost meant met paid ran
sat saw seen sent spent stood understood won wrote written children men women feet teeth mice
ate eaten drove driven fell fallen forgot forgotten grew grown held heard hid hidden hurt led
paid rode rose shot shown sang slept spoke spoken stole stolen swam taught tore thrown wore woke
"""

_MISSPELLINGS = """
accomodate acheive adress agressive alot aparent apparantly arguement assesment basicly becuase
beacuse begining beleive belive buisness calender catagory cemetary collegue comming commitee
completly concious curiousity definately definatly dilema dissapoint embarass enviroment
enviromental existance experiance familar finaly foriegn freind goverment grammer happend
harrass heigth hieght immediatly independant infomation intresting knowlege libary lisence
maintainance neccessary necesary noticable occassion occured occurence oppurtunity paralel
parliment particulary peice percieve perhpas persue posession prefered privelege probaly
proffesional publically realy recieve recomend refered relevent religous remeber resistence
responsability rythm seperate sieze similiar sincerely sucessful suprise teh thier tommorow
tounge truely untill usefull wich wierd writting yeild
"""

_CONNECTIVES = """
additionally|also|although|as a result|because|besides|but|consequently|conversely|despite|
finally|firstly|for example|for instance|furthermore|hence|however|in addition|in conclusion|
in contrast|in fact|in other words|in summary|indeed|instead|likewise|meanwhile|moreover|
nevertheless|nonetheless|on the other hand|otherwise|secondly|similarly|since|so that|
subsequently|therefore|thus|to conclude|to sum up|ultimately|unless|whereas|while
"""

CONNECTIVES: tuple[str, ...] = tuple(
    phrase.strip() for phrase in _CONNECTIVES.replace("\n", "").split("|") if phrase.strip()
)
COMMON_WORDS: frozenset[str] = frozenset(_COMMON.split()) | frozenset(
    word for phrase in CONNECTIVES for word in phrase.split()
)
COMMON_MISSPELLINGS: frozenset[str] = frozenset(_MISSPELLINGS.split())
