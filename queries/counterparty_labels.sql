-- counterparty_labels: the label text shown for each address in top_counterparties.
-- Grain: one row per top counterparty that has a label.
-- Choice: the label of highest confidence; among labels of that confidence, the first by text.
-- Filters: only the addresses in top_counterparties (a few hundred), so labels are read once.
WITH wanted AS (
  SELECT DISTINCT counterparty AS address FROM top_counterparties
), best AS (
  SELECT l.address, MAX(l.confidence) AS confidence
  FROM labels l
  JOIN wanted w ON w.address = l.address
  GROUP BY l.address
)
SELECT l.address, MIN(l.label) AS label
FROM labels l
JOIN best b ON b.address = l.address AND b.confidence = l.confidence
GROUP BY l.address
ORDER BY l.address
