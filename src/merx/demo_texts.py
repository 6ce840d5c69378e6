"""The demo catalog's texts in the shop's other languages: real Polish, Romanian, Russian,
Ukrainian and Chinese product nouns, colours and category names (written for this demo, not
machine-made word-for-word), so that searching the demo in those languages behaves as it would
in a real multilingual shop (issue 22: «słuchawki», «наушники», «无线耳机» find products)."""

from __future__ import annotations

from typing import Any

LANGS = ("pl", "ro", "ru", "uk", "zh")

# English noun -> (pl, ro, ru, uk, zh)
NOUNS: dict[str, tuple[str, str, str, str, str]] = {
    "Smartphone": ("Smartfon", "Telefon inteligent", "Смартфон", "Смартфон", "智能手机"),
    "Phone": ("Telefon komórkowy", "Telefon mobil", "Мобильный телефон", "Мобільний телефон", "手机"),
    "Rugged Phone": ("Wzmocniony telefon", "Telefon rezistent", "Защищённый телефон", "Захищений телефон", "三防手机"),
    "Laptop": ("Laptop", "Laptop", "Ноутбук", "Ноутбук", "笔记本电脑"),
    "Notebook": ("Notebook", "Notebook", "Нетбук", "Нетбук", "轻薄笔记本"),
    "Ultrabook": ("Ultrabook", "Ultrabook", "Ультрабук", "Ультрабук", "超极本"),
    "Headphones": ("Słuchawki nauszne", "Căști over-ear", "Полноразмерные наушники", "Повнорозмірні навушники", "头戴式耳机"),
    "Earbuds": ("Słuchawki douszne bezprzewodowe", "Căști wireless in-ear", "Беспроводные наушники-вкладыши",
                "Бездротові навушники-вкладиші", "无线蓝牙耳机"),
    "Headset": ("Zestaw słuchawkowy z mikrofonem", "Căști cu microfon", "Гарнитура с микрофоном",
                "Гарнітура з мікрофоном", "带麦克风耳机"),
    "TV": ("Telewizor", "Televizor", "Телевизор", "Телевізор", "电视机"),
    "Smart TV": ("Telewizor Smart TV", "Televizor Smart TV", "Смарт-телевизор", "Смарт-телевізор", "智能电视"),
    "OLED TV": ("Telewizor OLED", "Televizor OLED", "OLED-телевизор", "OLED-телевізор", "OLED电视"),
    "Kettle": ("Czajnik elektryczny", "Fierbător electric", "Электрический чайник", "Електричний чайник", "电热水壶"),
    "Toaster": ("Toster", "Prăjitor de pâine", "Тостер", "Тостер", "烤面包机"),
    "Blender": ("Blender kielichowy", "Blender", "Блендер", "Блендер", "搅拌机"),
    "Frying Pan": ("Patelnia", "Tigaie", "Сковорода", "Сковорідка", "平底锅"),
    "Knife Set": ("Zestaw noży kuchennych", "Set de cuțite de bucătărie", "Набор кухонных ножей",
                  "Набір кухонних ножів", "厨房刀具套装"),
    "Chair": ("Krzesło", "Scaun", "Стул", "Стілець", "椅子"),
    "Desk": ("Biurko", "Birou", "Письменный стол", "Письмовий стіл", "书桌"),
    "Bookshelf": ("Regał na książki", "Bibliotecă", "Книжный стеллаж", "Книжковий стелаж", "书架"),
    "Sofa": ("Sofa", "Canapea", "Диван", "Диван", "沙发"),
    "Bed Frame": ("Rama łóżka", "Cadru de pat", "Каркас кровати", "Каркас ліжка", "床架"),
    "Desk Lamp": ("Lampka biurkowa", "Lampă de birou", "Настольная лампа", "Настільна лампа", "台灯"),
    "Floor Lamp": ("Lampa podłogowa", "Lampadar", "Торшер", "Торшер", "落地灯"),
    "LED Bulb": ("Żarówka LED", "Bec LED", "Светодиодная лампочка", "Світлодіодна лампочка", "LED灯泡"),
    "Pendant Light": ("Lampa wisząca", "Lustră suspendată", "Подвесной светильник", "Підвісний світильник", "吊灯"),
    "Vase": ("Wazon", "Vază", "Ваза", "Ваза", "花瓶"),
    "Candle": ("Świeca zapachowa", "Lumânare parfumată", "Ароматическая свеча", "Ароматична свічка", "香薰蜡烛"),
    "Picture Frame": ("Ramka na zdjęcia", "Ramă foto", "Фоторамка", "Фоторамка", "相框"),
    "Cushion": ("Poduszka dekoracyjna", "Pernă decorativă", "Декоративная подушка", "Декоративна подушка", "靠垫"),
    "Rug": ("Dywan", "Covor", "Ковёр", "Килим", "地毯"),
    "Sneakers": ("Sneakersy", "Pantofi sport", "Кроссовки", "Кросівки", "运动鞋"),
    "Boots": ("Botki", "Cizme", "Ботинки", "Черевики", "靴子"),
    "Sandals": ("Sandały", "Sandale", "Сандалии", "Сандалі", "凉鞋"),
    "Running Shoes": ("Buty do biegania", "Pantofi de alergare", "Беговые кроссовки", "Бігові кросівки", "跑鞋"),
    "Jacket": ("Kurtka", "Geacă", "Куртка", "Куртка", "夹克"),
    "Shirt": ("Koszula", "Cămașă", "Рубашка", "Сорочка", "衬衫"),
    "Jeans": ("Dżinsy", "Blugi", "Джинсы", "Джинси", "牛仔裤"),
    "Hoodie": ("Bluza z kapturem", "Hanorac", "Худи", "Худі", "连帽衫"),
    "Dress": ("Sukienka", "Rochie", "Платье", "Сукня", "连衣裙"),
    "Blouse": ("Bluzka", "Bluză", "Блузка", "Блузка", "女式衬衫"),
    "Coat": ("Płaszcz", "Palton", "Пальто", "Пальто", "大衣"),
    "Skirt": ("Spódnica", "Fustă", "Юбка", "Спідниця", "半身裙"),
    "Backpack": ("Plecak", "Rucsac", "Рюкзак", "Рюкзак", "双肩包"),
    "Wallet": ("Portfel", "Portofel", "Кошелёк", "Гаманець", "钱包"),
    "Belt": ("Pasek", "Curea", "Ремень", "Ремінь", "腰带"),
    "Sunglasses": ("Okulary przeciwsłoneczne", "Ochelari de soare", "Солнцезащитные очки", "Сонцезахисні окуляри", "太阳镜"),
    "Watch": ("Zegarek", "Ceas de mână", "Наручные часы", "Наручний годинник", "手表"),
    "Bike Helmet": ("Kask rowerowy", "Cască de bicicletă", "Велосипедный шлем", "Велосипедний шолом", "自行车头盔"),
    "Bike Light": ("Lampka rowerowa", "Far de bicicletă", "Велосипедный фонарь", "Велосипедний ліхтар", "自行车灯"),
    "Road Bike": ("Rower szosowy", "Bicicletă de șosea", "Шоссейный велосипед", "Шосейний велосипед", "公路自行车"),
    "Bike Lock": ("Zapięcie rowerowe", "Lacăt de bicicletă", "Велосипедный замок", "Велосипедний замок", "自行车锁"),
    "Running Jacket": ("Kurtka do biegania", "Geacă de alergare", "Беговая куртка", "Бігова куртка", "跑步夹克"),
    "Running Belt": ("Pas biegowy", "Centură de alergare", "Беговой пояс", "Біговий пояс", "跑步腰包"),
    "Sports Watch": ("Zegarek sportowy", "Ceas sport", "Спортивные часы", "Спортивний годинник", "运动手表"),
    "Yoga Mat": ("Mata do jogi", "Saltea de yoga", "Коврик для йоги", "Килимок для йоги", "瑜伽垫"),
    "Dumbbell Set": ("Zestaw hantli", "Set de gantere", "Набор гантелей", "Набір гантелей", "哑铃套装"),
    "Kettlebell": ("Kettlebell", "Kettlebell", "Гиря", "Гиря", "壶铃"),
    "Resistance Band": ("Guma oporowa", "Bandă elastică de rezistență", "Эспандер-лента", "Стрічка-еспандер", "弹力带"),
    "Tent": ("Namiot", "Cort", "Палатка", "Намет", "帐篷"),
    "Sleeping Bag": ("Śpiwór", "Sac de dormit", "Спальный мешок", "Спальний мішок", "睡袋"),
    "Camping Stove": ("Kuchenka turystyczna", "Aragaz de camping", "Туристическая плитка", "Туристична плитка", "露营炉"),
    "Headlamp": ("Latarka czołowa", "Lanternă frontală", "Налобный фонарь", "Налобний ліхтар", "头灯"),
    "Face Cream": ("Krem do twarzy", "Cremă de față", "Крем для лица", "Крем для обличчя", "面霜"),
    "Shampoo": ("Szampon", "Șampon", "Шампунь", "Шампунь", "洗发水"),
    "Perfume": ("Perfumy", "Parfum", "Духи", "Парфуми", "香水"),
    "Hair Dryer": ("Suszarka do włosów", "Uscător de păr", "Фен", "Фен для волосся", "吹风机"),
    "Puzzle": ("Puzzle", "Puzzle", "Пазл", "Пазл", "拼图"),
    "Building Blocks": ("Klocki konstrukcyjne", "Cuburi de construcție", "Конструктор", "Конструктор", "积木"),
    "Plush Bear": ("Pluszowy miś", "Ursuleț de pluș", "Плюшевый мишка", "Плюшевий ведмедик", "毛绒熊"),
    "Board Game": ("Gra planszowa", "Joc de societate", "Настольная игра", "Настільна гра", "桌游"),
    "Cookbook": ("Książka kucharska", "Carte de bucate", "Кулинарная книга", "Кулінарна книга", "食谱"),
    "Novel": ("Powieść", "Roman", "Роман", "Роман", "小说"),
    "Travel Guide": ("Przewodnik turystyczny", "Ghid turistic", "Путеводитель", "Путівник", "旅行指南"),
    "Atlas": ("Atlas", "Atlas", "Атлас", "Атлас", "地图册"),
    "Garden Hose": ("Wąż ogrodowy", "Furtun de grădină", "Садовый шланг", "Садовий шланг", "花园水管"),
    "Lawn Mower": ("Kosiarka do trawy", "Mașină de tuns iarba", "Газонокосилка", "Газонокосарка", "割草机"),
    "Plant Pot": ("Doniczka", "Ghiveci", "Цветочный горшок", "Вазон для квітів", "花盆"),
    "Pruning Shears": ("Sekator", "Foarfecă de grădină", "Секатор", "Секатор", "修枝剪"),
    "Dog Bed": ("Legowisko dla psa", "Pat pentru câini", "Лежанка для собаки", "Лежак для собаки", "狗窝"),
    "Cat Tree": ("Drapak dla kota", "Ansamblu de joacă pentru pisici", "Когтеточка-домик для кошки",
                 "Кігтеточка-будиночок для кішки", "猫爬架"),
    "Pet Bowl": ("Miska dla zwierząt", "Bol pentru animale", "Миска для животных", "Миска для тварин", "宠物碗"),
    "Leash": ("Smycz", "Lesă", "Поводок", "Повідець", "牵引绳"),
}

# colour -> (pl, ro, ru, uk, zh); the shop's colour attribute keeps its English code.
COLOURS: dict[str, tuple[str, str, str, str, str]] = {
    "black": ("czarny", "negru", "чёрный", "чорний", "黑色"),
    "white": ("biały", "alb", "белый", "білий", "白色"),
    "grey": ("szary", "gri", "серый", "сірий", "灰色"),
    "red": ("czerwony", "roșu", "красный", "червоний", "红色"),
    "blue": ("niebieski", "albastru", "синий", "синій", "蓝色"),
    "green": ("zielony", "verde", "зелёный", "зелений", "绿色"),
    "beige": ("beżowy", "bej", "бежевый", "бежевий", "米色"),
    "navy": ("granatowy", "bleumarin", "тёмно-синий", "темно-синій", "藏青色"),
}

# category code -> (pl, ro, ru, uk, zh)
CATEGORY_NAMES: dict[str, tuple[str, str, str, str, str]] = {
    "electronics": ("Elektronika", "Electronice", "Электроника", "Електроніка", "电子产品"),
    "phones": ("Telefony", "Telefoane", "Телефоны", "Телефони", "手机"),
    "laptops": ("Laptopy", "Laptopuri", "Ноутбуки", "Ноутбуки", "笔记本电脑"),
    "headphones": ("Słuchawki", "Căști", "Наушники", "Навушники", "耳机"),
    "tv": ("Telewizory", "Televizoare", "Телевизоры", "Телевізори", "电视"),
    "home": ("Dom i kuchnia", "Casă și bucătărie", "Дом и кухня", "Дім і кухня", "家居厨房"),
    "kitchen": ("Kuchnia", "Bucătărie", "Кухня", "Кухня", "厨房用品"),
    "furniture": ("Meble", "Mobilă", "Мебель", "Меблі", "家具"),
    "lighting": ("Oświetlenie", "Iluminat", "Освещение", "Освітлення", "灯具照明"),
    "decor": ("Dekoracje", "Decorațiuni", "Декор", "Декор", "家居装饰"),
    "fashion": ("Moda", "Modă", "Мода", "Мода", "时尚服饰"),
    "shoes": ("Buty", "Încălțăminte", "Обувь", "Взуття", "鞋靴"),
    "menswear": ("Odzież męska", "Îmbrăcăminte bărbați", "Мужская одежда", "Чоловічий одяг", "男装"),
    "womenswear": ("Odzież damska", "Îmbrăcăminte femei", "Женская одежда", "Жіночий одяг", "女装"),
    "accessories": ("Akcesoria", "Accesorii", "Аксессуары", "Аксесуари", "配饰"),
    "sports": ("Sport i turystyka", "Sport și aventură", "Спорт и отдых", "Спорт і відпочинок", "运动户外"),
    "cycling": ("Rowery", "Ciclism", "Велоспорт", "Велоспорт", "骑行"),
    "running": ("Bieganie", "Alergare", "Бег", "Біг", "跑步"),
    "fitness": ("Fitness", "Fitness", "Фитнес", "Фітнес", "健身"),
    "camping": ("Kemping", "Camping", "Кемпинг", "Кемпінг", "露营"),
    "beauty": ("Uroda", "Frumusețe", "Красота", "Краса", "美妆个护"),
    "toys": ("Zabawki", "Jucării", "Игрушки", "Іграшки", "玩具"),
    "books": ("Książki", "Cărți", "Книги", "Книги", "图书"),
    "garden": ("Ogród", "Grădină", "Сад", "Сад", "园艺"),
    "pets": ("Zoologia", "Animale de companie", "Зоотовары", "Зоотовари", "宠物用品"),
}


def category_translations(code: str) -> dict[str, str]:
    return dict(zip(LANGS, CATEGORY_NAMES[code]))


def product_translations(noun: str, colour: str, brand: str, adjective: str, number: str, category: str,
                         langs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Name and description of one demo product in each of `langs`, the way shops in those
    markets title them (brand and model word kept, the noun and colour in the language)."""
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        k = LANGS.index(lang)
        n, c, cat = NOUNS[noun][k], COLOURS[colour][k], CATEGORY_NAMES[category][k]
        if lang == "pl":
            text = (f"{n} {brand} {adjective}, kolor {c} {number}", f"{n} marki {brand}, kolor: {c}. Kategoria: {cat}.")
        elif lang == "ro":
            text = (f"{n} {brand} {adjective}, {c} {number}", f"{n} de la {brand}, culoare: {c}. Categoria: {cat}.")
        elif lang == "ru":
            text = (f"{n} {brand} {adjective}, цвет {c} {number}", f"{n} от {brand}, цвет: {c}. Категория: {cat}.")
        elif lang == "uk":
            text = (f"{n} {brand} {adjective}, колір {c} {number}", f"{n} від {brand}, колір: {c}. Категорія: {cat}.")
        else:
            text = (f"{brand} {c}{n} {adjective} {number}", f"{brand}出品的{c}{n}。类别：{cat}。")
        out[lang] = {"name": text[0], "description": text[1]}
    return out
