import os

from app import get_token, request, settings

PASSWORD = os.environ['DB_PASSWORD']
SECRET_KEY = os.getenv('SECRET_KEY')
token = get_token(request)
api_key = settings.API_KEY
