"""What the Python parts of the HTTP API tests share (test-api.sh, test-dashboard.sh): the
ok/FAIL lines their shell wrappers turn into ok/not_ok, and a GET with a timeout."""
import requests


def ok(name, *detail):
    print("ok   " + name, flush=True)


def not_ok(name, *detail):
    print("FAIL " + name, flush=True)
    for d in detail:
        print("     " + str(d)[:2000], flush=True)


def check(cond, name, *detail):
    (ok if cond else not_ok)(name, *detail)
    return cond


def getter(base):
    """A get(path, **params) for the API at base."""
    def get(path, **params):
        return requests.get(base + path, params=params, timeout=30)
    return get
