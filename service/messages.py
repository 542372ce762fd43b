"""Texts for reason, next-step and error codes in Kazakh, Russian and English (SPEC §11).

Texts are fixed per code and never interpolate request data.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    KK = "kk"
    RU = "ru"
    EN = "en"


DEFAULT_LANGUAGE = Language.KK

_TEXTS: dict[str, tuple[str, str, str]] = {
    # code: (kk, ru, en)
    "NOT_FOUND": (
        "ЖСН халық тізілімінде табылмады.",
        "ИИН не найден в государственной базе данных «Физические лица».",
        "The IIN is not in the population registry.",
    ),
    "DECEASED": (
        "Тізілім бойынша адам қайтыс болған.",
        "По данным регистра лицо умерло.",
        "The registry records this person as deceased.",
    ),
    "NOT_CITIZEN": (
        "Сайлауға тек Қазақстан Республикасының азаматтары қатыса алады.",
        "Голосовать могут только граждане Республики Казахстан.",
        "Only citizens of the Republic of Kazakhstan may vote.",
    ),
    "EXCLUDED_BY_OVERRIDE": (
        "Сайлау комиссиясының шешімімен тізімнен шығарылған.",
        "Исключён из списка решением избирательной комиссии.",
        "Excluded from the list by an election commission decision.",
    ),
    "UNDER_18": (
        "Дауыс беру күніне 18 жасқа толмаған.",
        "На день голосования не исполнилось 18 лет.",
        "Not 18 years old on voting day.",
    ),
    "INCAPACITATED_BY_COURT": (
        "Сот әрекетке қабілетсіз деп таныған.",
        "Признан судом недееспособным.",
        "Declared legally incapable by a court.",
    ),
    "IMPRISONED_BY_SENTENCE": (
        "Сот үкімі бойынша бас бостандығынан айыру орындарында ұсталады.",
        "Содержится в местах лишения свободы по приговору суда.",
        "Held in a place of deprivation of liberty by a court sentence.",
    ),
    "OUTSIDE_TERRITORY": (
        "Сайлаушының учаскесі осы сайлау өтетін аумақтан тыс, немесе ол тек шетелде "
        "консулдық есепте тұр.",
        "Участок избирателя находится вне территории этих выборов, или избиратель состоит "
        "только на консульском учёте за рубежом.",
        "The voter's precinct lies outside this election's territory, or the voter is "
        "registered only abroad.",
    ),
    "DAY_REGISTRATION_AVAILABLE": (
        "Тіркеу жоқ: дауыс беру күні белгіленген учаскеде тіркелуге болады.",
        "Регистрация отсутствует: в день голосования можно зарегистрироваться "
        "на определённом участке.",
        "No registration: you can register at a designated polling station on voting day.",
    ),
    "APPLY_TO_COMMISSION": (
        "Тізілімде жоқ: жеке басты куәландыратын құжатпен учаскелік сайлау комиссиясына жүгініңіз.",
        "Лица нет в государственной базе данных: обратитесь в участковую избирательную "
        "комиссию с документом, удостоверяющим личность.",
        "The registry does not know this person: apply to the precinct election commission "
        "with an identity document.",
    ),
    "NO_PRECINCT_FOR_ADDRESS": (
        "Тіркелген мекенжай ешбір учаскеге кірмейді; сайлау комиссиясына хабарласыңыз.",
        "Адрес регистрации не входит ни в один участок; обратитесь в избирательную комиссию.",
        "No precinct covers the registered address; contact the election commission.",
    ),
    "VOTE_WITH_ABSENTEE_CERTIFICATE": (
        "Сайлаушыға сырттай дауыс беру куәлігі берілді: ол тұратын елді мекеннен тыс кез "
        "келген учаскеде куәлікті көрсетіп дауыс береді.",
        "Избирателю выдано открепительное удостоверение: он голосует по нему на любом "
        "участке за пределами населённого пункта своего участка.",
        "The voter holds an absentee certificate: they vote with it at any precinct outside "
        "their home precinct's locality.",
    ),
    "ABSENTEE_CERTIFICATE_ISSUED": (
        "Сайлаушыға осы учаскеде сырттай дауыс беру куәлігі берілген: ол бұл учаскенің "
        "тізімінен шығарылды.",
        "Избирателю на этом участке выдано открепительное удостоверение: он исключён из "
        "списка этого участка.",
        "This precinct issued the voter an absentee certificate: they are off its list.",
    ),
    "ABSENTEE_SAME_LOCALITY": (
        "Сырттай дауыс беру куәлігі сайлаушының өз учаскесі орналасқан елді мекенде қабылданбайды.",
        "Открепительное удостоверение не принимается в населённом пункте участка избирателя.",
        "An absentee certificate is not accepted in the locality of the voter's home precinct.",
    ),
    "NOT_IN_PRECINCT": (
        "Сайлаушы басқа учаскенің тізімінде.",
        "Избиратель включён в список другого участка.",
        "The voter belongs to another precinct.",
    ),
    "NO_PRECINCT": (
        "Сайлаушы ешбір учаскеге бекітілмеген.",
        "Избиратель не закреплён ни за одним участком.",
        "The voter is not assigned to any precinct.",
    ),
    "REGISTRATION_NOT_FOUND": (
        "Мұндай тіркеу жоқ.",
        "Такая регистрация не найдена.",
        "No such day registration.",
    ),
    "OVERRIDE_NOT_FOUND": (
        "Мұндай түзету жоқ.",
        "Такая корректировка не найдена.",
        "No such override.",
    ),
    "IDEMPOTENCY_KEY_REQUIRED": (
        "Idempotency-Key тақырыбы қажет.",
        "Требуется заголовок Idempotency-Key.",
        "An Idempotency-Key header is required.",
    ),
    "IDEMPOTENCY_CONFLICT": (
        "Бұл кілт басқа сұраныспен қолданылған.",
        "Этот ключ уже использован с другим запросом.",
        "This key was already used with a different request.",
    ),
    "NOT_ELIGIBLE": (
        "Сайлаушы дауыс беру құқығына ие емес.",
        "Избиратель не обладает правом голоса.",
        "The voter is not eligible to vote.",
    ),
    "HAS_REGISTRATION": (
        "Сайлаушының тіркеуі бар: өз учаскесінде немесе сырттай дауыс беру куәлігімен "
        "дауыс береді.",
        "У избирателя есть регистрация: он голосует на своём участке или по открепительному "
        "удостоверению.",
        "The voter is registered: they vote at their own precinct or with an absentee certificate.",
    ),
    "ADDRESS_NOT_COVERED": (
        "Сайлаушының тіркелген мекенжайы ешбір учаскенің шекарасына кірмейді: оны учаскеге "
        "сайлау комиссиясының операторы енгізеді.",
        "Адрес регистрации избирателя не входит в границы ни одного участка: включить его в "
        "список участка может оператор избирательной комиссии.",
        "The voter's registered address lies inside no precinct's boundaries: an election "
        "commission operator places them on a precinct's list.",
    ),
    "REGISTERED_ABROAD": (
        "Сайлаушы шетелде тіркелген.",
        "Избиратель состоит на консульском учёте за рубежом.",
        "The voter is registered abroad.",
    ),
    "PRECINCT_NOT_DESIGNATED": (
        "Бұл учаскеде дауыс беру күні тіркеу жүргізілмейді.",
        "На этом участке регистрация в день голосования не проводится.",
        "This precinct is not designated for day registration.",
    ),
    "REGISTRATION_CLOSED": (
        "Тіркеу учаскенің жергілікті уақыты бойынша 07:00-ден 20:00-ге дейін жүргізіледі.",
        "Регистрация проводится с 07:00 до 20:00 по местному времени участка.",
        "Registration is open from 07:00 to 20:00 local time at the precinct.",
    ),
    "ALREADY_REGISTERED": (
        "Сайлаушы осы сайлауға тіркеліп қойған.",
        "Избиратель уже зарегистрирован на эти выборы.",
        "The voter is already registered for this election.",
    ),
    "ALREADY_ON_LIST": (
        "Сайлаушы осы сайлаудың тізіміне енгізіліп қойған.",
        "Избиратель уже включён в список на этих выборах.",
        "The voter is already on a list for this election.",
    ),
    "LIST_ENTRY_NOT_FOUND": (
        "Тізімдегі жазба табылмады.",
        "Запись в списке не найдена.",
        "No such list entry.",
    ),
    "LIST_ENTRY_NOT_ACTIVE": (
        "Тізімдегі жазба белсенді емес.",
        "Запись в списке не действует.",
        "The list entry is not active.",
    ),
    "PRECINCT_NOT_SPECIAL": (
        "Учаске арнайы учаске емес.",
        "Участок не является специальным.",
        "The precinct is not a special precinct.",
    ),
    "PRESENCE_LISTS_CLOSED": (
        "Арнайы учаскелердің тізімдері дауыс беру күнінің алдындағы күні 18:00-ге дейін "
        "қабылданады.",
        "Списки специальных участков принимаются до 18:00 дня, предшествующего дню голосования.",
        "Presence lists of special precincts are accepted until 18:00 on the day before "
        "voting day.",
    ),
    "ABSENTEE_CERTIFICATE_NOT_FOUND": (
        "Сырттай дауыс беру куәлігі табылмады.",
        "Открепительное удостоверение не найдено.",
        "No such absentee certificate.",
    ),
    "ABSENTEE_CERTIFICATE_ALREADY_ISSUED": (
        "Сайлаушыға осы сайлауға сырттай дауыс беру куәлігі берілген; ол қайта берілмейді.",
        "Избирателю уже выдано открепительное удостоверение на эти выборы; повторно оно не "
        "выдаётся.",
        "The voter was already issued an absentee certificate for this election; it is "
        "never issued again.",
    ),
    "ABSENTEE_CERTIFICATE_USED": (
        "Сырттай дауыс беру куәлігі пайдаланылған.",
        "Открепительное удостоверение уже использовано.",
        "The absentee certificate has already been used.",
    ),
    "ABSENTEE_CERTIFICATES_CLOSED": (
        "Сырттай дауыс беру куәліктері дауыс беру күніне 15 күн қалғаннан бастап дауыс "
        "беру күнінің алдындағы күні 18:00-ге дейін беріледі.",
        "Открепительные удостоверения выдаются с 00:00 за 15 дней до дня голосования до "
        "18:00 дня, предшествующего дню голосования.",
        "Absentee certificates are issued from 00:00 fifteen days before voting day until "
        "18:00 on the day before it.",
    ),
    "ABSENTEE_SERIALS_EXHAUSTED": (
        "Осы сайлаудың сырттай дауыс беру куәліктерінің нөмірлері таусылды.",
        "Номера открепительных удостоверений этих выборов исчерпаны.",
        "Every absentee certificate serial of this election has been issued.",
    ),
    "NOT_ON_A_LIST": (
        "Сайлаушы ешбір учаскенің тізімінде жоқ.",
        "Избиратель не включён в список ни одного участка.",
        "The voter is on no precinct's list.",
    ),
    "APPLICATIONS_CLOSED": (
        "Болатын жері бойынша өтініштер сайлау тағайындалған күннен бастап дауыс беру күніне "
        "30 күн қалғанда 23:59-ға дейін қабылданады.",
        "Заявления по месту пребывания принимаются со дня назначения выборов до 23:59 за 30 "
        "дней до дня голосования.",
        "Place-of-stay applications are accepted from the day the election is called until "
        "23:59 thirty days before voting day.",
    ),
    "STAY_ADDRESS_NOT_COVERED": (
        "Болатын мекенжай ешбір учаскенің шекарасына кірмейді.",
        "Адрес пребывания не входит в границы ни одного участка.",
        "No precinct's boundaries cover the stay address.",
    ),
    "MISSION_APPLICATIONS_CLOSED": (
        "Өкілдікке өтініштер дауыс беру күнінің алдындағы күні өкілдік уақытымен 18:00-ге "
        "дейін қабылданады.",
        "Заявления в представительстве принимаются до 18:00 по времени представительства дня, "
        "предшествующего дню голосования.",
        "Mission applications are accepted until 18:00 mission time on the day before voting day.",
    ),
    "PRECINCT_NOT_FOREIGN": (
        "Учаске шетелдегі өкілдіктегі учаске емес.",
        "Участок не является участком при представительстве за рубежом.",
        "The precinct is not a precinct at a mission abroad.",
    ),
    "REGISTRATION_NOT_ACTIVE": (
        "Тіркеу белсенді емес.",
        "Регистрация не действует.",
        "The registration is not active.",
    ),
    "SELF_APPROVAL_FORBIDDEN": (
        "Өз түзетуіңізді бекітуге болмайды.",
        "Нельзя утвердить собственную корректировку.",
        "An operator cannot approve their own override.",
    ),
    "OVERRIDE_NOT_PENDING": (
        "Түзету бекітуді күтпейді.",
        "Корректировка не ожидает утверждения.",
        "The override is not pending.",
    ),
    "OVERRIDE_NOT_ACTIVE": (
        "Түзету белсенді емес.",
        "Корректировка не действует.",
        "The override is not active.",
    ),
    "OVERRIDE_EXPIRED": (
        "Түзетудің мерзімі өтті.",
        "Срок действия корректировки истёк.",
        "The override has expired.",
    ),
    "OVERRIDE_CONFLICT": (
        "Бұл сайлаушыға басқа түзету әрекет етеді.",
        "Для этого избирателя уже действует другая корректировка.",
        "Another override is already active for this voter.",
    ),
    "UNDO_PENDING": (
        "Бұл жазбаның күшін жою сұрауы екінші оператордың шешімін күтуде.",
        "Запрос на отмену этой записи уже ожидает решения второго оператора.",
        "A request to undo this record is already awaiting a second operator.",
    ),
    "UNDO_NOT_PENDING": (
        "Бұл жазбаның күшін жою сұрауы жоқ.",
        "Для этой записи нет запроса на отмену.",
        "No request to undo this record is awaiting a decision.",
    ),
    "SELF_CONFIRMATION_FORBIDDEN": (
        "Өз сұрауыңызды растауға болмайды: оны басқа оператор растауы керек.",
        "Нельзя подтвердить собственный запрос: его подтверждает другой оператор.",
        "An operator cannot confirm their own request; a different operator must.",
    ),
    "MALFORMED_REQUEST": (
        "Сұраныс оқылмады.",
        "Запрос не удалось прочитать.",
        "The request could not be read.",
    ),
    "VALIDATION_FAILED": (
        "Сұраныс өрістері дұрыс емес.",
        "Поля запроса заполнены неверно.",
        "The request fields are invalid.",
    ),
    "IIN_FORMAT": (
        "ЖСН 12 цифрдан тұруы керек.",
        "ИИН должен состоять из 12 цифр.",
        "An IIN is exactly 12 digits.",
    ),
    "IIN_CHECKSUM": (
        "ЖСН бақылау саны сәйкес келмейді.",
        "Контрольный разряд ИИН не совпадает.",
        "The IIN check digit does not match.",
    ),
    "IIN_UNUSABLE": (
        "Мұндай ЖСН берілмейді.",
        "Такой ИИН не выдаётся.",
        "No IIN is ever issued with these digits.",
    ),
    "NOT_INDIVIDUAL": (
        "Тізілімде бұл нөмірмен жеке тұлға жоқ, ал нөмір заңды тұлғаның БСН-іне ұқсайды. "
        "Егер бұл сіздің ЖСН-іңіз болса, учаскелік сайлау комиссиясына жүгініңіз.",
        "В государственной базе данных нет лица с этим номером, а по виду это БИН "
        "юридического лица. Если это ваш ИИН, обратитесь в участковую избирательную комиссию.",
        "The registry holds no person with this number, and it has the shape of a legal "
        "entity's BIN. If it is your IIN, apply to the precinct election commission.",
    ),
    "UNAUTHENTICATED": (
        "Жарамды кіру токені қажет.",
        "Требуется действительный токен доступа.",
        "A valid access token is required.",
    ),
    "FORBIDDEN": (
        "Бұл әрекетке рұқсат жоқ.",
        "Нет прав на это действие.",
        "Your role does not allow this action.",
    ),
    "ELECTION_NOT_BY_CITIZENS": (
        "Бұл сайлауда азаматтар дауыс бермейді: депутаттарды мәслихат депутаттары сайлайды.",
        "На этих выборах граждане не голосуют: депутатов избирают депутаты маслихатов.",
        "Citizens do not vote in this election: maslikhat deputies elect.",
    ),
    "PRECINCT_OUTSIDE_TERRITORY": (
        "Бұл учаске осы сайлау өтетін аумаққа кірмейді.",
        "Этот участок не входит в территорию этих выборов.",
        "This precinct is not part of this election's territory.",
    ),
    "PRECINCT_NOT_SERVED": (
        "Токеніңізде бұл учаске сіз қызмет ететін учаскелер қатарында аталмаған.",
        "Ваш токен не называет этот участок среди участков, которые вы обслуживаете.",
        "Your token does not name this precinct among those you serve.",
    ),
    "ELECTION_NOT_FOUND": (
        "Мұндай сайлау жоқ.",
        "Такие выборы не найдены.",
        "No such election.",
    ),
    "PRECINCT_NOT_FOUND": (
        "Мұндай учаске жоқ.",
        "Такой участок не найден.",
        "No such precinct.",
    ),
    "TREE_SIZE_UNKNOWN": (
        "Журнал әлі бұл өлшемге жеткен жоқ.",
        "Журнал ещё не достиг такого размера.",
        "The audit log is not that long yet.",
    ),
    "PROOF_RANGE_INVALID": (
        "Дәлелдеменің өлшемдері немесе орны қате берілген.",
        "Размеры или позиция для доказательства заданы неверно.",
        "The proof's position and sizes are out of order.",
    ),
    "CHECKPOINT_NOT_FOUND": (
        "Сервис мұндай бақылау нүктесіне қол қойған жоқ.",
        "Сервис не подписывал такую контрольную точку.",
        "The service signed no such checkpoint.",
    ),
    "COSIGNATURE_INVALID": (
        "Куәгердің қолы бақылау нүктесіне сәйкес келмейді.",
        "Подпись наблюдателя не соответствует контрольной точке.",
        "A witness's signature does not verify over the checkpoint.",
    ),
    "WITNESS_NOT_REGISTERED": (
        "Жазбада тіркелген куәгердің қолы жоқ.",
        "В записи нет подписи зарегистрированного наблюдателя.",
        "The note carries no signature by a registered witness.",
    ),
    "RESOURCE_NOT_FOUND": (
        "Ресурс табылмады.",
        "Ресурс не найден.",
        "Not found.",
    ),
    "METHOD_NOT_ALLOWED": (
        "Бұл әдіске рұқсат жоқ.",
        "Метод не поддерживается.",
        "Method not allowed.",
    ),
    "PAYLOAD_TOO_LARGE": (
        "Сұраныс тым үлкен.",
        "Запрос слишком большой.",
        "The request body is too large.",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (
        "Сұраныс JSON форматында болуы керек.",
        "Запрос должен быть в формате JSON.",
        "The request body must be JSON.",
    ),
    "RATE_LIMITED": (
        "Сұраныстар тым көп; кейінірек қайталаңыз.",
        "Слишком много запросов; повторите позже.",
        "Too many requests; try again later.",
    ),
    "ACCOUNT_HELD": (
        "Бұл тіркелгі өз рөліне рұқсат етілгеннен көп сайлаушыны сұрады және тоқтатылды: "
        "оператор тоқтатуды алмайынша сайлаушыларды іздеуге болмайды. "
        "Сайлау комиссиясының операторына хабарласыңыз.",
        "Учётная запись запросила больше избирателей, чем допускает её роль, и приостановлена: "
        "поиск избирателей запрещён, пока оператор не снимет приостановку. "
        "Обратитесь к оператору избирательной комиссии.",
        "This account looked up more voters than its role allows and is held: voter look-ups "
        "are refused until an operator lifts the hold. "
        "Contact your election commission's operator.",
    ),
    "HOLD_NOT_ACTIVE": (
        "Бұл тоқтату бұрыннан алынған.",
        "Эта приостановка уже снята.",
        "This hold has already been lifted.",
    ),
    "SELF_LIFT_FORBIDDEN": (
        "Өз тіркелгіңіздің тоқтатуын алуға болмайды: оны басқа оператор алуы керек.",
        "Нельзя снять приостановку собственной учётной записи: её снимает другой оператор.",
        "An operator cannot lift a hold on their own account; a different operator must.",
    ),
    "UNDETERMINED": (
        "Мемлекеттік дерекқор қолжетімсіз; шешім қабылданбады, кейінірек қайталаңыз.",
        "Государственная база данных недоступна; решение не принято, повторите позже.",
        "A state database is unavailable; no decision was taken, try again later.",
    ),
    "SERVICE_UNAVAILABLE": (
        "Қызмет уақытша қолжетімсіз.",
        "Сервис временно недоступен.",
        "The service is temporarily unavailable.",
    ),
    "INTERNAL_ERROR": (
        "Ішкі қате.",
        "Внутренняя ошибка.",
        "Internal error.",
    ),
    # The purposes of a citizen's access log (service.domain.access_log.Purpose).
    "ELIGIBILITY_CHECK": (
        "Сайлау құқығы мен учаскені тексеру.",
        "Проверка права голоса и участка.",
        "A check of the right to vote and of the precinct.",
    ),
    "PRECINCT_CHECK": (
        "Учаскелік комиссияның тізімді тексеруі.",
        "Проверка списка участковой комиссией.",
        "A precinct commission's check of its list.",
    ),
    "VOTER_LIST_COMPILATION": (
        "Сайлаушылар тізімін жасау.",
        "Составление списков избирателей.",
        "The compilation of the voter lists.",
    ),
    "DAY_REGISTRATION": (
        "Дауыс беру күнгі тіркеу немесе оның күшін жою.",
        "Регистрация в день голосования или её отмена.",
        "A voting-day registration, or its cancellation.",
    ),
    "MANUAL_CORRECTION": (
        "Сайлау комиссиясының тізімге қолмен түзетуі.",
        "Ручное исправление списка избирательной комиссией.",
        "A manual correction of the list by an election commission.",
    ),
    "LIST_ENTRY": (
        "Тізімге енгізу (келу орны бойынша тізім, өтініш, сырттай дауыс беру куәлігі) "
        "немесе оның күшін жою.",
        "Включение в список (список по месту пребывания, заявление, открепительное "
        "удостоверение) или его отмена.",
        "An entry onto a list (presence list, application, absentee certificate), or its "
        "cancellation.",
    ),
    "RECORD_SEARCH": (
        "Оператордың жазбаларды іздеуі.",
        "Поиск записей оператором.",
        "A search of the records by an operator.",
    ),
    "ACCESS_LOG": (
        "Осы қол жеткізу журналын қарау.",
        "Просмотр этого журнала доступа.",
        "A reading of this access log.",
    ),
    "OTHER": (
        "Басқа әрекет (түрі көрсетілген).",
        "Другое действие (вид указан).",
        "Another action (its kind is shown).",
    ),
}

_INDEX = {Language.KK: 0, Language.RU: 1, Language.EN: 2}


def message(code: str, language: Language) -> str:
    texts = _TEXTS.get(code)
    return texts[_INDEX[language]] if texts else code


def known_codes() -> frozenset[str]:
    return frozenset(_TEXTS)


def negotiate(accept_language: str | None) -> Language:
    """Pick kk, ru or en from an Accept-Language header by quality; default Kazakh."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        if primary not in _INDEX:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality <= 0:
            continue
        candidate = (quality, -position, Language(primary))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else DEFAULT_LANGUAGE
