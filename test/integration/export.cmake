# seerlog export against the real broker: events (avro, jsonl, csv) and a store's state, read
# back with fastavro and DuckDB (scripts/python-env), atomic output, exit codes.
sl_add_integration_script(test_export test-export.sh)
