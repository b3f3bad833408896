"""ROS 2 front end of attsiammask: the tracker node and its command-line clients."""
