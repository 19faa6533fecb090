-- label_sources: the label packs attribution used, for the methodology.
-- Grain: one row per (pack, source file) of the labels table.
-- Units: labels = rows; min_confidence / max_confidence = the range of their confidence.
SELECT pack, source_file, CAST(COUNT(*) AS BIGINT) AS labels, MIN(confidence) AS min_confidence, MAX(confidence) AS max_confidence
FROM labels
GROUP BY pack, source_file
ORDER BY pack, source_file
