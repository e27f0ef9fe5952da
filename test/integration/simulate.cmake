# seerlog simulate (a virtual fleet: topic routing, keys, partitions, faults, counts checked with
# kcat and seerlog tail) and a smoke test of seerlog bench produce, against the fixture's broker.
sl_add_integration_script(test_simulate test-simulate.sh)
