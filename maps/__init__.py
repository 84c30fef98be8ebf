"""The one map (一张图): Folium views over the service's layers, offline by default, in Chinese."""
