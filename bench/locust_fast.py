# The same one-GET closed loop for Locust's FastHttpUser, measured by bench/run.sh.
from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self):
        self.client.get("/")
