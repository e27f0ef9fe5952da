# seerlog history against the fixture's broker: one node's events across two topics, in order,
# by record time ([since, until)), a garbage record of the node, the exit codes.
sl_add_integration_script(test_history test-history.sh)
