-- attributed_transfers: every transfer, valued in USD and attributed (a view the other queries read).
-- Grain: one row per transfer (year and month: UTC, of the block time).
-- Units: value_usd in USD = amount (decimal-adjusted) x the close of the asset's price series
--   (assets.price_asset, the preferred price source: price_days) on the block's UTC day;
--   NULL when the asset has no series or no close that day (counted as unpriced, never 0), and
--   NULL when it exceeds the asset's ceiling asset_series.max_transfer_usd (the report's
--   max-transfer-usd) (implausible = TRUE: a spam token's absurd price or a price typo, kept out
--   of every total and listed in the price coverage).
-- Attribution: from_actor / to_actor = the address's actor on the transfer's day (address_actors,
--   valid_from <= day < valid_to); NULL when unattributed. to_category = the receiver's report
--   category (exchange, mixer, bridge, defi, sanctioned, other), 'unlabelled' without a label.
WITH valued AS (
  SELECT t.chain, t.year, t.month, CAST(t.block_time AS DATE) AS day, t.tx_hash, t.from_address, t.to_address, t.asset,
         t.amount, a.price_asset, a.max_transfer_usd, t.source_file, t.block_number, t.log_index, t.trace_address,
         t.amount * p.close_usd AS raw_usd
  FROM transfers t
  LEFT JOIN asset_series a ON a.chain = t.chain AND a.symbol = t.asset
  LEFT JOIN price_days p ON p.asset = a.price_asset AND p.day = CAST(t.block_time AS DATE)
)
SELECT v.chain, v.year, v.month, v.day, v.tx_hash, v.from_address, v.to_address, v.asset, v.amount, v.price_asset, v.max_transfer_usd,
       CASE WHEN v.raw_usd > v.max_transfer_usd THEN NULL ELSE v.raw_usd END AS value_usd,
       COALESCE(v.raw_usd > v.max_transfer_usd, FALSE) AS implausible,
       v.raw_usd, v.source_file, v.block_number, v.log_index, v.trace_address,
       f.actor AS from_actor, r.actor AS to_actor, COALESCE(r.category, 'unlabelled') AS to_category
FROM valued v
LEFT JOIN address_actors f ON f.address = v.from_address
LEFT JOIN address_actors r ON r.address = v.to_address
WHERE (f.address IS NULL OR (v.day >= f.valid_from AND v.day < f.valid_to))
  AND (r.address IS NULL OR (v.day >= r.valid_from AND v.day < r.valid_to))
