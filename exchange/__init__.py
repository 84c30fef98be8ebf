"""Getting layer data in and out of onemap: read common GIS and spreadsheet files, validate, export."""
