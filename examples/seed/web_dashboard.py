# web_dashboard.py
from flask import Flask, jsonify
from query_stats import query_device_stats

app = Flask(__name__)

@app.route('/api/devices/<int:device_id>/stats')
def get_device_stats(device_id):
    """REST API endpoint for device stats."""
    try:
        stats = query_device_stats(device_id)
        return jsonify(stats)
    except Exception as e:
        return jsonify({'error': str(e)}), 500

@app.route('/api/devices')
def list_devices():
    """List all devices with their stats."""
    devices = []
    for i in range(8):  # Max 8 devices
        try:
            stats = query_device_stats(i)
            devices.append(stats)
        except:
            break
    return jsonify(devices)

if __name__ == '__main__':
    app.run(host='0.0.0.0', port=8080)
