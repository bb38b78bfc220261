// The embedded players' words in Azerbaijani (the default), English and Russian. What
// follows the "=" is strict JSON: tests/test_embed.py reads it to check every language has
// every key.
window.DIASPOR_EMBED_MESSAGES = {
  "az": {
    "listen": "Dinlə",
    "watch": "İzlə",
    "pause": "Dayandır",
    "onAir": "İndi efirdə",
    "live": "CANLI",
    "connecting": "Qoşulur…",
    "offAir": "Kanal hazırda efirdə deyil.",
    "playError": "Səsləndirmək alınmadı. Yenidən cəhd edin.",
    "noHls": "Bu brauzer bu yayımı oynada bilmir.",
    "loadError": "Kanal yüklənmədi."
  },
  "en": {
    "listen": "Listen",
    "watch": "Watch",
    "pause": "Pause",
    "onAir": "On air",
    "live": "LIVE",
    "connecting": "Connecting…",
    "offAir": "The channel is not on air right now.",
    "playError": "Could not play. Please try again.",
    "noHls": "This browser cannot play this stream.",
    "loadError": "The channel could not be loaded."
  },
  "ru": {
    "listen": "Слушать",
    "watch": "Смотреть",
    "pause": "Пауза",
    "onAir": "Сейчас в эфире",
    "live": "ПРЯМОЙ ЭФИР",
    "connecting": "Подключение…",
    "offAir": "Канал сейчас не в эфире.",
    "playError": "Не удалось воспроизвести. Попробуйте ещё раз.",
    "noHls": "Этот браузер не может воспроизвести этот поток.",
    "loadError": "Не удалось загрузить канал."
  }
};
