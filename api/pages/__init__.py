"""The station's public HTML pages (a programme, an episode, a page not found), made on the
server from the catalogue, and the words they and the embedded players' answers use."""
