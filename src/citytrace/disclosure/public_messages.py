"""Words of the public disclosure pages in Korean and English."""

_KINDS_KO = {
    "restaurant": "음식점",
    "cafe": "카페",
    "church": "교회",
    "religious": "종교시설",
    "gym": "체육시설",
    "pc_bang": "PC방",
    "pc_cafe": "PC방",
    "karaoke": "노래연습장",
    "hospital": "병원",
    "clinic": "의원",
    "pharmacy": "약국",
    "mart": "마트",
    "store": "상점",
    "bakery": "제과점",
    "bar": "주점",
    "school": "학교",
    "university": "대학교",
    "academy": "학원",
    "office": "직장",
    "workplace": "직장",
    "bank": "은행",
    "beauty_salon": "미용실",
    "lodging": "숙박시설",
    "post_office": "우체국",
    "gas_station": "주유소",
    "real_estate_agency": "부동산중개업소",
    "airport": "공항",
    "subway": "지하철",
    "bus": "버스",
    "train": "기차",
    "ferry": "여객선",
    "airport_bus": "공항버스",
    "public_transportation": "대중교통",
    "other": "기타",
}
_KINDS_EN = {
    "restaurant": "restaurant",
    "cafe": "café",
    "church": "church",
    "religious": "place of worship",
    "gym": "gym",
    "pc_bang": "PC room",
    "pc_cafe": "PC room",
    "karaoke": "karaoke room",
    "hospital": "hospital",
    "clinic": "clinic",
    "pharmacy": "pharmacy",
    "mart": "supermarket",
    "store": "shop",
    "bakery": "bakery",
    "bar": "bar",
    "school": "school",
    "university": "university",
    "academy": "private academy",
    "office": "workplace",
    "workplace": "workplace",
    "bank": "bank",
    "beauty_salon": "beauty salon",
    "lodging": "lodging",
    "post_office": "post office",
    "gas_station": "petrol station",
    "real_estate_agency": "estate agent",
    "airport": "airport",
    "subway": "subway",
    "bus": "bus",
    "train": "train",
    "ferry": "ferry",
    "airport_bus": "airport bus",
    "public_transportation": "public transport",
    "other": "other",
}

MESSAGES: dict[str, dict[str, str]] = {
    "ko": {
        "disclosure.public.title": "확진자 방문 장소",
        "disclosure.public.title_district": "확진자 방문 장소 · {district}",
        "disclosure.public.intro": (
            "확진자가 머무는 동안 접촉이 있었을 수 있고, 접촉자를 모두 확인하지 못한 "
            "장소입니다. 같은 시간에 이곳에 있었다면 증상이 없어도 가까운 선별진료소에서 "
            "검사를 받으세요. 각 장소는 마지막 접촉 후 14일이 지나면 목록에서 사라집니다."
        ),
        "disclosure.public.filter": "자치구 선택",
        "disclosure.public.district": "자치구",
        "disclosure.public.all_districts": "서울 전체",
        "disclosure.public.show": "보기",
        "disclosure.public.count": "장소 {n}곳",
        "disclosure.public.updated": "최종 변경 {at}",
        "disclosure.public.map": "방문 장소 지도",
        "disclosure.public.map_help": (
            "지도의 표시를 누르거나 Tab 키로 선택하고 Enter 키를 누르면 목록의 해당 장소로 "
            "이동합니다. 같은 내용이 아래 목록에 모두 있습니다."
        ),
        "disclosure.public.list": "장소 목록",
        "disclosure.public.none": "지금 공개 중인 장소가 없습니다.",
        "disclosure.public.kind": "장소 유형",
        "disclosure.public.address": "도로명 주소",
        "disclosure.public.exposure": "노출 일시",
        "disclosure.public.line": "노선",
        "disclosure.public.car": "칸",
        "disclosure.public.boarding": "승차",
        "disclosure.public.alighting": "하차",
        "disclosure.public.disinfected": "소독",
        "disclosure.public.disinfection_na": "해당 없음",
        "disclosure.public.yes": "완료",
        "disclosure.public.no": "미완료",
        "disclosure.public.expires": "공개 종료",
        "disclosure.public.notes": "비고",
        "disclosure.public.corrected": "정정 ({at})",
        "disclosure.public.about": "이 목록에 대하여",
        "disclosure.public.about_text": (
            "이 목록은 사람이 아니라 장소를 알립니다. 확진자의 번호, 성별, 나이, 국적, 거주지와 "
            "이동 순서는 공개하지 않으며, 여러 확진자가 다녀간 장소는 하나로 묶고 시간은 "
            "{step}분 단위로 넓혀 표시합니다. 이 페이지와 공개 데이터를 누가 보는지는 기록하지 "
            "않습니다."
        ),
        "disclosure.public.open_data": "같은 목록을 공개 데이터로 받을 수 있습니다:",
        "disclosure.public.selfcheck.title": "내 동선 확인하기",
        "disclosure.public.selfcheck.intro": (
            "구글 위치 기록(타임라인) 파일이나 GPS 기록(GPX, KML)을 고르면 이 목록의 장소와 "
            "시간을 이 기기 안에서 비교합니다. 파일은 어디에도 보내지 않습니다."
        ),
        "disclosure.public.selfcheck.file": "위치 기록 파일 (JSON, GPX, KML)",
        "disclosure.public.selfcheck.reading": "비교하는 중…",
        "disclosure.public.selfcheck.none": (
            "위치 기록 {stays}건 중 공개된 장소와 시간이 겹치는 곳이 없습니다."
        ),
        "disclosure.public.selfcheck.found": (
            "공개된 장소 {n}곳에 같은 시간에 있었던 것으로 보입니다. 증상이 없어도 검사를 받으세요."
        ),
        "disclosure.public.selfcheck.bad": (
            "이 파일을 읽을 수 없습니다. 구글 테이크아웃이나 휴대전화의 타임라인에서 내보낸 "
            "JSON 파일, 또는 시간이 담긴 GPX나 KML 파일을 고르세요."
        ),
        "disclosure.public.selfcheck.clinic": "가까운 선별진료소와 대기 시간 보기",
        **{f"disclosure.public.kind.{k}": v for k, v in _KINDS_KO.items()},
    },
    "en": {
        "disclosure.public.title": "Places visited by confirmed cases",
        "disclosure.public.title_district": "Places visited by confirmed cases · {district}",
        "disclosure.public.intro": (
            "Places where contacts may have occurred while a confirmed case was there, and whose "
            "contacts could not all be identified. If you were there at the same time, get "
            "tested at a screening clinic near you, even without symptoms. Each place leaves "
            "the list 14 days after the last contact there."
        ),
        "disclosure.public.filter": "Choose a district",
        "disclosure.public.district": "District",
        "disclosure.public.all_districts": "All of Seoul",
        "disclosure.public.show": "Show",
        "disclosure.public.count": "{n} places",
        "disclosure.public.updated": "last changed {at}",
        "disclosure.public.map": "Map of the places",
        "disclosure.public.map_help": (
            "Select a marker with the mouse, or with Tab and Enter, to go to that place in the "
            "list. The list below holds everything the map shows."
        ),
        "disclosure.public.list": "List of places",
        "disclosure.public.none": "No place is published at the moment.",
        "disclosure.public.kind": "Kind of place",
        "disclosure.public.address": "Road address",
        "disclosure.public.exposure": "Exposure time",
        "disclosure.public.line": "Line",
        "disclosure.public.car": "Car",
        "disclosure.public.boarding": "Boarded",
        "disclosure.public.alighting": "Got off",
        "disclosure.public.disinfected": "Disinfected",
        "disclosure.public.disinfection_na": "not needed",
        "disclosure.public.yes": "yes",
        "disclosure.public.no": "not yet",
        "disclosure.public.expires": "Listed until",
        "disclosure.public.notes": "Notes",
        "disclosure.public.corrected": "Corrected ({at})",
        "disclosure.public.about": "About this list",
        "disclosure.public.about_text": (
            "This list tells of places, not people. It never shows a case's number, sex, age, "
            "nationality, residence or order of visits; places visited by several cases are "
            "listed once, and times are widened to steps of {step} minutes. Nobody records who "
            "reads this page or downloads the open data."
        ),
        "disclosure.public.open_data": "The same list as open data:",
        "disclosure.public.selfcheck.title": "Check your own movements",
        "disclosure.public.selfcheck.intro": (
            "Choose your Google location history (Timeline) file, or a GPS track (GPX, KML): it "
            "is compared with the places and times of this list on this device. The file is "
            "sent nowhere."
        ),
        "disclosure.public.selfcheck.file": "Location history file (JSON, GPX, KML)",
        "disclosure.public.selfcheck.reading": "Comparing…",
        "disclosure.public.selfcheck.none": (
            "None of your {stays} locations meets a listed place at its time."
        ),
        "disclosure.public.selfcheck.found": (
            "You seem to have been at {n} listed places at their time. Get tested, even "
            "without symptoms."
        ),
        "disclosure.public.selfcheck.bad": (
            "This file cannot be read. Choose the JSON file exported from Google Takeout or "
            "from your phone's Timeline, or a GPX or KML file with times."
        ),
        "disclosure.public.selfcheck.clinic": "Find the nearest screening clinic and its wait",
        **{f"disclosure.public.kind.{k}": v for k, v in _KINDS_EN.items()},
    },
}
