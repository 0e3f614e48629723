# A Locust worker for bench/distributed.sh: each user records five fake requests (five rows in
# every report) every 0.1 s and makes no network calls, so the master's cost is what is measured
# and a report's newest sample is at most ~0.1 s older than the report.
from locust import User, constant, task


class BenchUser(User):
    wait_time = constant(0.1)

    @task
    def fake_requests(self):
        for i in range(5):
            self.environment.events.request.fire(
                request_type="GET", name=f"/bench/{i}", response_time=10.0 + i,
                response_length=100, exception=None, context={},
            )
