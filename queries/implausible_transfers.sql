-- implausible_transfers: the transfers whose USD value exceeds the report's max-transfer-usd
--   (a spam token's absurd price, a price typo): kept out of every total and listed here, with
--   the input file and position they came from, so that a reader can check each one.
-- Grain: one row per flagged transfer. Units: raw_usd = amount x close as computed, in USD.
-- Filters: attributed_transfers.implausible.
SELECT year, source_file, block_number, tx_hash, log_index, trace_address, asset, amount, raw_usd
FROM attributed_transfers
WHERE implausible
ORDER BY year, block_number, tx_hash, log_index, trace_address
